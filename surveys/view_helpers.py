"""What a survey page shows: shared by the respondent pages, the preview and the phone form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from surveys.models import Question, QuestionKind, Response, SurveyVersion
from surveys.responding import OTHER, RATING_LABELS, YES_NO, Value, stored_values, visible_pages


@dataclass
class Shown:
    """What a field shows: the answer typed (even if refused), so nothing is lost on an error."""

    choices: list[str] = field(default_factory=list)
    text: str = ""
    other: str = ""


def _from_value(question: Question, value: Value) -> Shown:
    shown = Shown(choices=list(value.choices))
    if question.kind is QuestionKind.MULTIPLE:
        shown.other = value.text or ""
    elif value.number is not None:
        shown.choices = [str(value.number)]
    elif value.date_value is not None:
        shown.text = value.date_value.isoformat()
    else:
        shown.text = value.text or ""
    return shown


def _from_form(question: Question, form: Any) -> Shown:
    name = question.html_id
    values = form.getlist(name)
    if question.kind in (QuestionKind.SHORT_TEXT, QuestionKind.LONG_TEXT, QuestionKind.DATE):
        return Shown(text=values[0] if values else "")
    return Shown(choices=list(values), other=(form.getlist(f"{name}_other") or [""])[0])


def choices_for(question: Question) -> list[tuple[str, str]]:
    """(value, label) for every choice the question offers."""
    if question.kind.has_options:
        return [(option.value, option.label) for option in question.options]
    if question.kind is QuestionKind.YES_NO:
        return list(YES_NO)
    if question.kind is QuestionKind.RATING:
        return [(str(n), f"{n} – {RATING_LABELS[n]}") for n in range(1, 6)]
    if question.kind is QuestionKind.NPS:
        return [(str(n), str(n)) for n in range(11)]
    return []


def page_context(
    version: SurveyVersion,
    response: Response | None,
    page: int,
    *,
    form: Any = None,
    errors: dict[int, str],
    values: dict[int, Value] | None = None,
    ignore_logic: bool = False,
) -> dict[str, Any]:
    if values is None:
        values = stored_values(response) if response else {}
    if ignore_logic:  # the preview shows every page, conditional ones included
        pages = [(questions[0].page, questions) for questions in version.pages()]
    else:
        pages = visible_pages(version, values)
    numbers = [number for number, _ in pages]
    if page not in numbers:
        page = numbers[0] if numbers else 1
    index = numbers.index(page) if numbers else 0
    questions = pages[index][1] if pages else []
    shown = {
        question.id: _from_form(question, form)
        if form
        else _from_value(question, values.get(question.id, Value()))
        for question in questions
    }
    return {
        "version": version,
        "page": page,
        "page_index": index + 1,
        "page_count": max(len(numbers), 1),
        "questions": questions,
        "shown": shown,
        "errors": errors,
        "choices_for": choices_for,
        "OTHER": OTHER,
        "is_first": index == 0,
        "is_last": index == len(numbers) - 1,
        "Kind": QuestionKind,
    }
