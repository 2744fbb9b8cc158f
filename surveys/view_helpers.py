"""What a survey page shows: shared by the respondent pages, the preview and the phone form."""

from __future__ import annotations

import functools
import weakref
from typing import Any

from flask_babel import format_number, gettext
from markupsafe import Markup, escape

from app.i18n.languages import page_language
from surveys.kinds import OTHER, Kind, Shown, Value, kind_of
from surveys.kinds.base import OTHER_BOX, OTHER_TEXT, TEXT, Frame, Piece
from surveys.models import Question, Response, SurveyVersion
from surveys.responding import stored_values, visible_pages

Layout = tuple[Piece, ...]


def question_layout(question: Question, error: str | None) -> Layout:
    """One question's HTML with slots for the respondent's values: accessible, no JS.

    Fieldset + legend for groups, label for single fields, help and errors tied by aria-describedby.
    Built in Python rather than a Jinja macro, and once per frozen question (see render_question).
    The kind lays out its own fields; the frame (texts, help, error) is the same for every kind.
    """
    kind = kind_of(question)
    frame = _frame(question, kind, error)
    out: list[Piece] = [f'<div class="question{" has-error" if error else ""}">']
    out += kind.layout(question, frame)
    out.append("</div>")
    merged: list[Piece] = []  # adjacent strings joined, so filling walks few pieces
    for piece in out:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        elif piece != "":
            merged.append(piece)
    return tuple(merged)


def _frame(question: Question, kind: Kind, error: str | None) -> Frame:
    qid = question.html_id
    help_id, error_id, format_id = f"{qid}-help", f"{qid}-error", f"{qid}-format"
    hint = kind.format_hint
    described = " ".join(
        part
        for part, present in ((help_id, question.help_text), (format_id, hint), (error_id, error))
        if present
    )
    # Translated outside the f-strings, where pybabel finds them.
    required, optional, error_word = gettext("(required)"), gettext("(optional)"), gettext("Error:")
    return Frame(
        qid=qid,
        text=escape(question.text),
        required=(
            f' <span class="required">{escape(required)}</span>'
            if question.required
            else f' <span class="optional">{escape(optional)}</span>'
        ),
        help_html=(
            f'<small id="{help_id}" class="help">{escape(question.help_text)}</small>'
            if question.help_text
            else ""
        ),
        error_html=(
            f'<p class="field-error" id="{error_id}">'
            f"<strong>{escape(error_word)}</strong> {escape(error)}</p>"
            if error
            else ""
        ),
        format_html=f'<small id="{format_id}" class="help">{hint}</small>' if hint else "",
        describedby=f' aria-describedby="{described}"' if described else "",
        invalid=' aria-invalid="true"' if error else "",
        error_id=error_id,
        has_error=bool(error),
        is_required=question.required,
    )


def fill(layout: Layout, shown: Shown) -> Markup:
    chosen = shown.choices
    out = []
    for piece in layout:
        if piece.__class__ is str:
            out.append(piece)
        elif piece is TEXT:
            out.append(escape(shown.text))
        elif piece is OTHER_TEXT:
            out.append(escape(shown.other))
        elif piece is OTHER_BOX:
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


def progress_text(number: int, count: int, *, estimate: bool) -> str:
    """ "Page 1 of 4", or "Page 1 of about 4" while logic may still change the count."""
    return _progress_text(page_language(), number, count, estimate)


@functools.lru_cache(maxsize=1024)
def _progress_text(_language: str, number: int, count: int, estimate: bool) -> str:
    # Said in the current language (the first argument keys the cache): a page costs no Babel call.
    if estimate:
        return gettext(
            "Page %(number)s of about %(count)s", number=format_number(number), count=format_number(count)
        )
    return gettext("Page %(number)s of %(count)s", number=format_number(number), count=format_number(count))


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
        question.id: kind_of(question).shown_from_form(question, form)
        if form
        else kind_of(question).shown(question, values.get(question.id, Value()))
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
        "progress_text": progress_text(index + 1, page_count, estimate=count_is_estimate),
        "questions": questions,
        "shown": shown,
        "errors": errors,
        "questions_html": questions_html,
        "is_first": index == 0,
        "is_last": index == len(numbers) - 1,
    }
