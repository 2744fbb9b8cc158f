"""What a survey page shows: shared by the respondent pages, the preview and the phone form."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

from surveys.models import Question, QuestionKind, Response, SurveyVersion
from surveys.responding import DATE_HINT, OTHER, RATING_LABELS, YES_NO, Value, stored_values, visible_pages


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


class _Slot:
    """A place in a question's pre-rendered HTML for the respondent's own value."""

    __slots__ = ("choice",)

    def __init__(self, choice: str | None = None) -> None:
        self.choice = choice  # a choice's value: " checked" goes here when it is chosen


_TEXT = _Slot()  # the text typed (escaped)
_OTHER_TEXT = _Slot()  # the "other, please specify" text (escaped)
_OTHER_BOX = _Slot()  # " checked" on the "Other" box

Layout = tuple["str | _Slot", ...]


def question_layout(question: Question, error: str | None) -> Layout:
    """One question's HTML with slots for the respondent's values: accessible, no JS.

    Fieldset + legend for groups, label for single fields, help and errors tied by aria-describedby.
    Built in Python rather than a Jinja macro, and once per frozen question (see render_question).
    """
    qid = question.html_id
    kind = question.kind
    help_id, error_id, format_id = f"{qid}-help", f"{qid}-error", f"{qid}-format"
    is_date = kind is QuestionKind.DATE
    described = " ".join(
        part
        for part, present in ((help_id, question.help_text), (format_id, is_date), (error_id, error))
        if present
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
    out: list[str | _Slot] = [f'<div class="question{" has-error" if error else ""}">']
    if kind in _TEXT_KINDS:
        # The picker shows the browser's own format and sends year-month-day; without a picker the
        # field is plain text and accepts the forms DATE_HINT names.
        format_html = f'<small id="{format_id}" class="help">{DATE_HINT}</small>' if is_date else ""
        out.append(f'<label for="{qid}">{text}{required}</label>{help_html}{format_html}{error_html}')
        flags = f"{' required' if question.required else ''}{describedby}{invalid}"
        if kind is QuestionKind.LONG_TEXT:
            out += [f'<textarea id="{qid}" name="{qid}" rows="5"{flags}>', _TEXT, "</textarea>"]
        else:
            field_type = ' type="date"' if is_date else ' type="text"'
            out += [f'<input id="{qid}" name="{qid}" value="', _TEXT, f'"{field_type}{flags}>']
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
        for number, (value, label) in enumerate(choices_for(question), start=1):
            field_id = qid if number == 1 else f"{qid}-{number}"
            out += [
                f'<label for="{field_id}"><input type="{input_type}" id="{field_id}" name="{qid}" '
                f'value="{escape(value)}"',
                _Slot(value),
                f"{invalid}> {escape(label)}</label>",
            ]
        if kind is QuestionKind.MULTIPLE and question.allow_other:
            other_describedby = f' aria-describedby="{error_id}"' if error else ""
            out += [
                f'<label for="{qid}-other-box"><input type="checkbox" id="{qid}-other-box" name="{qid}" '
                f'value="{OTHER}"',
                _OTHER_BOX,
                f'> Other</label><label for="{qid}-other" class="other-text">Other, please specify</label>'
                f'<input type="text" id="{qid}-other" name="{qid}_other" value="',
                _OTHER_TEXT,
                f'"{invalid}{other_describedby}>',
            ]
        out.append("</fieldset>")
    out.append("</div>")
    merged: list[str | _Slot] = []  # adjacent strings joined, so filling walks few pieces
    for piece in out:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        elif piece != "":
            merged.append(piece)
    return tuple(merged)


def fill(layout: Layout, shown: Shown) -> Markup:
    chosen = shown.choices
    out = []
    for piece in layout:
        if piece.__class__ is str:
            out.append(piece)
        elif piece is _TEXT:
            out.append(escape(shown.text))
        elif piece is _OTHER_TEXT:
            out.append(escape(shown.other))
        elif piece is _OTHER_BOX:
            out.append(" checked" if OTHER in chosen or shown.other else "")
        elif piece.choice in chosen:
            out.append(" checked")
    return Markup("".join(out))  # noqa: S704 (the layout and every value filled in are escaped)


# Frozen questions never change, so their layout (without an error) is built once per process.
_layouts: weakref.WeakKeyDictionary[Question, Layout] = weakref.WeakKeyDictionary()


def render_question(question: Question, shown: Shown, error: str | None, *, frozen: bool = False) -> Markup:
    """One question with the respondent's values; `frozen` (a published version) reuses its layout."""
    if error or not frozen:
        return fill(question_layout(question, error), shown)
    layout = _layouts.get(question)
    if layout is None:
        layout = _layouts[question] = question_layout(question, None)
    return fill(layout, shown)


def _page_count(
    version: SurveyVersion, visible: list[int], page: int, *, ignore_logic: bool
) -> tuple[int, bool]:
    """How many pages the respondent can still reach, and whether logic may still change that.

    A later page shown only if an answer not given yet (on this page or after) matches may appear or
    disappear: it is counted, and the count is "about" so it never grows as the respondent goes on.
    """
    if ignore_logic:
        return max(len(visible), 1), False
    page_of = {question.id: question.page for question in version.questions}
    undecided = set()
    for questions in version.pages():
        number = questions[0].page
        if number <= page:
            continue
        triggers = [q.show_if_question_id for q in questions if q.show_if_question_id and q.show_if_value]
        if len(triggers) == len(questions) and any(page_of.get(t, 0) >= page for t in triggers):
            undecided.add(number)
    count = len(set(visible) | undecided)
    return max(count, 1), bool(undecided)


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
    page_count, count_is_estimate = _page_count(version, numbers, page, ignore_logic=ignore_logic)
    frozen = version.is_frozen
    questions_html = Markup("").join(
        render_question(question, shown[question.id], errors.get(question.id), frozen=frozen)
        for question in questions
    )
    return {
        "version": version,
        "page": page,
        "page_index": index + 1,
        "page_count": page_count,
        "page_count_is_estimate": count_is_estimate,
        "progress_text": f"Page {index + 1} of {'about ' if count_is_estimate else ''}{page_count}",
        "questions": questions,
        "shown": shown,
        "errors": errors,
        "questions_html": questions_html,
        "is_first": index == 0,
        "is_last": index == len(numbers) - 1,
    }
