"""What a survey page shows: shared by the respondent pages, the preview and the phone form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

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


_TEXT_KINDS = (QuestionKind.SHORT_TEXT, QuestionKind.LONG_TEXT, QuestionKind.DATE)


def render_question(question: Question, shown: Shown, error: str | None) -> Markup:
    """One question, accessible: fieldset + legend for groups, label for single fields, errors tied by id.

    Built in Python rather than a Jinja macro: the respondent pages render it for every question on
    every request, and a macro call per question (and per choice) was most of the page's cost.
    """
    qid = question.html_id
    kind = question.kind
    help_id, error_id = f"{qid}-help", f"{qid}-error"
    described = " ".join(
        part for part, present in ((help_id, question.help_text), (error_id, error)) if present
    )
    describedby = f' aria-describedby="{described}"' if described else ""
    invalid = ' aria-invalid="true"' if error else ""
    required = (
        ' <span class="required">(required)</span>'
        if question.required
        else (' <span class="optional">(optional)</span>')
    )
    text = escape(question.text)
    help_html = (
        f'<small id="{help_id}" class="help">{escape(question.help_text)}</small>'
        if question.help_text
        else ""
    )
    error_html = (
        f'<p class="field-error" id="{error_id}"><strong>Error:</strong> {escape(error)}</p>' if error else ""
    )
    out = [f'<div class="question{" has-error" if error else ""}">']
    if kind in _TEXT_KINDS:
        out.append(f'<label for="{qid}">{text}{required}</label>{help_html}{error_html}')
        flags = f"{' required' if question.required else ''}{describedby}{invalid}"
        if kind is QuestionKind.LONG_TEXT:
            out.append(f'<textarea id="{qid}" name="{qid}" rows="5"{flags}>{escape(shown.text)}</textarea>')
        else:
            field_type = (
                ' type="date" placeholder="YYYY-MM-DD"' if kind is QuestionKind.DATE else ' type="text"'
            )
            out.append(f'<input id="{qid}" name="{qid}" value="{escape(shown.text)}"{field_type}{flags}>')
    else:
        scale = " scale nps" if kind is QuestionKind.NPS else " scale" if kind is QuestionKind.RATING else ""
        out.append(
            f'<fieldset id="{qid}-group"{describedby} class="choices{scale}">'
            f"<legend>{text}{required}</legend>"
        )
        out.append(help_html)
        if kind is QuestionKind.NPS:
            out.append(
                f'<small class="help" id="{qid}-scale">'
                "0 means not at all likely, 10 means extremely likely.</small>"
            )
        out.append(error_html)
        input_type = "checkbox" if kind is QuestionKind.MULTIPLE else "radio"
        chosen = shown.choices
        for number, (value, label) in enumerate(choices_for(question), start=1):
            field_id = qid if number == 1 else f"{qid}-{number}"
            checked = " checked" if value in chosen else ""
            out.append(
                f'<label for="{field_id}"><input type="{input_type}" id="{field_id}" name="{qid}" '
                f'value="{escape(value)}"{checked}{invalid}> {escape(label)}</label>'
            )
        if kind is QuestionKind.MULTIPLE and question.allow_other:
            checked = " checked" if OTHER in chosen or shown.other else ""
            other_describedby = f' aria-describedby="{error_id}"' if error else ""
            out.append(
                f'<label for="{qid}-other-box"><input type="checkbox" id="{qid}-other-box" name="{qid}" '
                f'value="{OTHER}"{checked}> Other</label>'
                f'<label for="{qid}-other" class="other-text">Other, please specify</label>'
                f'<input type="text" id="{qid}-other" name="{qid}_other" value="{escape(shown.other)}"'
                f"{invalid}{other_describedby}>"
            )
        out.append("</fieldset>")
    out.append("</div>")
    return Markup("".join(out))  # noqa: S704 (every dynamic part above is escaped)


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
        "render_question": render_question,
        "is_first": index == 0,
        "is_last": index == len(numbers) - 1,
    }
