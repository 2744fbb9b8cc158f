"""Answering a survey: parse and check answers, save them page by page, complete once.

Used by the public respondent pages (channel web) and by callers during a call (channel phone).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app.auth.models import User
from app.crm.models import Contact, Opportunity
from app.errors import Conflict, ValidationError
from app.extensions import db
from app.validation import strip_control_characters
from surveys.cache import peek
from surveys.models import (
    Answer,
    Invitation,
    Question,
    QuestionKind,
    Response,
    ResponseChannel,
    ResponseStatus,
    SurveyVersion,
)
from surveys.signals import response_completed

SHORT_TEXT_LIMIT = 300
LONG_TEXT_LIMIT = 5000
OTHER_TEXT_LIMIT = 300
OTHER = "__other__"
YES_NO = (("yes", "Yes"), ("no", "No"))
RATING_LABELS = {1: "Very poor", 2: "Poor", 3: "Fair", 4: "Good", 5: "Excellent"}


class FormData(Protocol):
    def getlist(self, key: str) -> list[str]: ...


class ResponseIncomplete(ValidationError):
    code = "response_incomplete"

    def __init__(self, message: str, *, page: int, errors: dict[int, str]) -> None:
        super().__init__(message)
        self.page = page
        self.errors = errors


class ResponseClosed(Conflict):
    code = "response_closed"


@dataclass
class Value:
    """One parsed answer, before it is stored."""

    choices: list[str] = field(default_factory=list)
    text: str | None = None
    number: int | None = None
    date_value: date | None = None

    @property
    def empty(self) -> bool:
        return not self.choices and not self.text and self.number is None and self.date_value is None

    def matches(self, expected: str) -> bool:
        if expected in self.choices:
            return True
        if self.number is not None and str(self.number) == expected:
            return True
        return self.text is not None and self.text.strip().lower() == expected.strip().lower()


def value_of(answer: Answer) -> Value:
    return Value(
        choices=list(answer.choices or []),
        text=answer.text,
        number=answer.number,
        date_value=answer.date_value,
    )


def is_visible(question: Question, values: Mapping[int, Value]) -> bool:
    """A question with a "show only if" shows when the earlier answer matches."""
    if question.show_if_question_id is None or not question.show_if_value:
        return True
    earlier = values.get(question.show_if_question_id)
    return earlier is not None and earlier.matches(question.show_if_value)


def visible_pages(version: SurveyVersion, values: Mapping[int, Value]) -> list[tuple[int, list[Question]]]:
    """(page number, visible questions) for every page that has a visible question."""
    pages = []
    for questions in version.pages():
        shown = [question for question in questions if is_visible(question, values)]
        if shown:
            pages.append((questions[0].page, shown))
    return pages


# Control characters (NUL included) but tab and line breaks: never part of an answer, and they break
# PostgreSQL text columns and XLSX exports.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


DATE_HINT = "Choose it in the calendar, or type it like 31 March 2027 or 2027-03-31."
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_DAY_MONTH_YEAR = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?\s+([a-z]+)\.?,?\s+(\d{4})")
_MONTH_DAY_YEAR = re.compile(r"([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})")


def parse_date(raw: str) -> date | None:
    """A date typed as DATE_HINT says (what a date picker sends, year-month-day, is one of them)."""
    text = " ".join(raw.lower().split())
    if len(text) > 40:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    for pattern, order in ((_DAY_MONTH_YEAR, (0, 1, 2)), (_MONTH_DAY_YEAR, (1, 0, 2))):
        match = pattern.fullmatch(text)
        if match is None:
            continue
        parts = match.groups()
        day, month, year = (parts[i] for i in order)
        if month not in _MONTHS:
            return None
        try:
            return date(int(year), _MONTHS[month], int(day))
        except ValueError:
            return None
    return None


def _one(form: FormData, name: str) -> str:
    values = form.getlist(name)
    return strip_control_characters(values[0]).strip() if values else ""


def parse_answer(question: Question, form: FormData) -> tuple[Value, str | None]:
    """The answer to one question from form fields named q<id> (and q<id>_other); an error or None."""
    name = question.html_id
    value = Value()
    kind = question.kind
    if kind is QuestionKind.SINGLE:
        chosen = _one(form, name)
        if chosen:
            if question.option_by_value(chosen) is None:
                return value, "Choose one of the options."
            value.choices = [chosen]
    elif kind is QuestionKind.MULTIPLE:
        chosen = [choice for choice in form.getlist(name) if choice]
        known = {option.value for option in question.options}
        if question.allow_other:
            known.add(OTHER)
        if any(choice not in known for choice in chosen):
            return value, "Choose from the options shown."
        value.choices = list(dict.fromkeys(chosen))
        other = _one(form, f"{name}_other")
        if len(other) > OTHER_TEXT_LIMIT:
            return value, f"Please keep “other” under {OTHER_TEXT_LIMIT} characters (you wrote {len(other)})."
        if other and question.allow_other:
            if OTHER not in value.choices:
                value.choices.append(OTHER)
            value.text = other
        elif OTHER in value.choices:
            return value, "You ticked “Other”: please say what it is."
    elif kind is QuestionKind.YES_NO:
        chosen = _one(form, name)
        if chosen:
            if chosen not in ("yes", "no"):
                return value, "Answer yes or no."
            value.choices = [chosen]
    elif kind in (QuestionKind.RATING, QuestionKind.NPS):
        raw = _one(form, name)
        if raw:
            low, high = (1, 5) if kind is QuestionKind.RATING else (0, 10)
            # isdigit() alone lets "²" through, which int() refuses.
            if not (raw.isascii() and raw.isdigit() and len(raw) <= 2) or not low <= int(raw) <= high:
                return value, f"Choose a number from {low} to {high}."
            value.number = int(raw)
    elif kind in (QuestionKind.SHORT_TEXT, QuestionKind.LONG_TEXT):
        raw = _one(form, name)
        limit = SHORT_TEXT_LIMIT if kind is QuestionKind.SHORT_TEXT else LONG_TEXT_LIMIT
        if len(raw) > limit:
            return (
                value,
                f"Please keep this under {limit} characters (you wrote {len(raw)}). Nothing was cut.",
            )
        value.text = raw or None
    elif kind is QuestionKind.DATE:
        raw = _one(form, name)
        if raw:
            value.date_value = parse_date(raw)
            if value.date_value is None:
                return value, f"Enter a date we can read. {DATE_HINT}"
            if not 1900 <= value.date_value.year <= 2200:
                return value, "Enter a date between the years 1900 and 2200."
    if question.required and value.empty:
        return value, "This question needs an answer."
    return value, None


def _structure(response: Response) -> SurveyVersion:
    """The version's questions: the shared frozen copy when this process has it, else the ORM's."""
    return peek(response.version_id) or response.version


def stored_values(response: Response) -> dict[int, Value]:
    return {answer.question_id: value_of(answer) for answer in response.answers}


def start_response(
    version: SurveyVersion,
    *,
    channel: ResponseChannel,
    now: datetime,
    invitation: Invitation | None = None,
    contact: Contact | None = None,
    opportunity: Opportunity | None = None,
    caller: User | None = None,
) -> Response:
    """The invitation's response to this version, created on first use (a race creates one, not two)."""
    if invitation is not None:
        existing = db.session.scalar(
            select(Response)
            .where(Response.invitation_id == invitation.id, Response.version_id == version.id)
            .options(selectinload(Response.answers))
        )
        if existing is not None:
            return existing
    contact_id = contact.id if contact else (invitation.contact_id if invitation else None)
    opportunity_id = opportunity.id if opportunity else (invitation.opportunity_id if invitation else None)
    first_page = version.pages()[0][0].page if version.questions else 1
    response = Response(
        version_id=version.id,
        invitation_id=invitation.id if invitation else None,
        contact_id=contact_id,
        opportunity_id=opportunity_id,
        caller_id=caller.id if caller else None,
        channel=channel,
        started_at=now,
        updated_at=now,
        current_page=first_page,
        furthest_page=first_page,
    )
    try:
        with db.session.begin_nested():
            db.session.add(response)
    except IntegrityError:
        return db.session.scalars(
            select(Response).where(Response.invitation_id == invitation.id, Response.version_id == version.id)
        ).one()
    if invitation is not None and invitation.started_at is None:
        invitation.started_at = now
    return response


def _store(response: Response, question: Question, value: Value, *, now: datetime) -> None:
    existing = response.answers_by_question().get(question.id)
    if value.empty:
        if existing is not None:
            response.answers.remove(existing)
        return
    answer = existing or Answer(question_id=question.id)  # by id: the question may be a shared copy
    answer.choices = value.choices
    answer.text = value.text
    answer.number = value.number
    answer.date_value = value.date_value
    answer.updated_at = now
    if existing is None:
        response.answers.append(answer)


def _page_questions(response: Response, page: int) -> list[Question]:
    for number, questions in visible_pages(_structure(response), stored_values(response)):
        if number == page:
            return questions
    return []


def parse_page(
    version: SurveyVersion, values: Mapping[int, Value], page: int, form: FormData, *, check_required: bool
) -> tuple[dict[int, Value], dict[int, str]]:
    """The answers given on one visible page ({question id: value}, empty ones included) and the errors."""
    parsed: dict[int, Value] = {}
    errors: dict[int, str] = {}
    for number, questions in visible_pages(version, values):
        if number != page:
            continue
        for question in questions:
            value, error = parse_answer(question, form)
            if error and not (not check_required and value.empty and question.required):
                errors[question.id] = error
            else:
                parsed[question.id] = value
    return parsed, errors


@functools.cache
def _upsert_statement(dialect: str):
    table = Answer.__table__
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=[table.c.response_id, table.c.question_id],
        set_={
            name: statement.excluded[name]
            for name in ("choices", "text", "number", "date_value", "updated_at")
        },
    )


_DELETE_EMPTIED = (
    delete(Answer.__table__)
    .where(Answer.__table__.c.response_id == bindparam("b_response_id"))
    .where(Answer.__table__.c.question_id.in_(bindparam("b_question_ids", expanding=True)))
)


def upsert_answers(response_id: int, parsed: Mapping[int, Value], *, now: datetime) -> None:
    """Write one page's answers set-based: one INSERT .. ON CONFLICT DO UPDATE, one DELETE for emptied ones.

    Core statements built once, run on the session's connection (same transaction, no ORM bookkeeping):
    callers must not hold the response's answers loaded in the session.
    """
    rows = [
        {
            "response_id": response_id,
            "question_id": question_id,
            "choices": value.choices,
            "text": value.text,
            "number": value.number,
            "date_value": value.date_value,
            "updated_at": now,
        }
        for question_id, value in parsed.items()
        if not value.empty
    ]
    emptied = [question_id for question_id, value in parsed.items() if value.empty]
    connection = db.session.connection()
    if rows:
        connection.execute(_upsert_statement(connection.dialect.name), rows)
    if emptied:
        connection.execute(_DELETE_EMPTIED, {"b_response_id": response_id, "b_question_ids": emptied})


def save_page(
    response: Response, page: int, form: FormData, *, now: datetime, check_required: bool = True
) -> dict[int, str]:
    """Store the answers given on one page; return {question id: error}. Valid answers are kept."""
    if response.status is not ResponseStatus.IN_PROGRESS:
        raise ResponseClosed("This response can no longer be changed.")
    errors: dict[int, str] = {}
    for question in _page_questions(response, page):
        value, error = parse_answer(question, form)
        if error and not (not check_required and value.empty and question.required):
            errors[question.id] = error
            continue
        _store(response, question, value, now=now)
    response.updated_at = now
    db.session.flush()
    return errors


def next_page(
    version: SurveyVersion, values: Mapping[int, Value], page: int, *, direction: int
) -> int | None:
    """The visible page before/after `page` given these answers; None past the last page.

    A page no longer visible (the logic hid it) leads back to the first page.
    """
    numbers = [number for number, _ in visible_pages(version, values)]
    if page not in numbers:
        return numbers[0] if numbers else None
    index = numbers.index(page) + direction
    if index < 0:
        return numbers[0]
    return numbers[index] if index < len(numbers) else None


def navigate(response: Response, page: int, *, direction: int) -> int | None:
    """The page before/after `page` given the response's stored answers; None past the last page."""
    return next_page(_structure(response), stored_values(response), page, direction=direction)


def move_to(response: Response, page: int) -> None:
    response.current_page = page
    response.furthest_page = max(response.furthest_page, page)


def missing_answers(response: Response) -> tuple[int, dict[int, str]] | None:
    """The first page with a required visible question unanswered, and its errors."""
    values = stored_values(response)
    for number, questions in visible_pages(_structure(response), values):
        errors = {
            q.id: "This question needs an answer."
            for q in questions
            if q.required and (q.id not in values or values[q.id].empty)
        }
        if errors:
            return number, errors
    return None


def complete_response(response: Response, *, now: datetime) -> bool:
    """Mark complete once; True only for the call that completed it (and fired the follow-up)."""
    if response.status is ResponseStatus.COMPLETE:
        return False
    if response.status is ResponseStatus.CLOSED:
        raise ResponseClosed("This response was closed and can no longer be completed.")
    missing = missing_answers(response)
    if missing is not None:
        raise ResponseIncomplete(
            "Some required questions are not answered yet.", page=missing[0], errors=missing[1]
        )
    # Answers to questions the logic hides are not part of the response.
    values = stored_values(response)
    shown = {q.id for _, questions in visible_pages(_structure(response), values) for q in questions}
    for answer in list(response.answers):
        if answer.question_id not in shown:
            response.answers.remove(answer)
    db.session.flush()
    # The conditional update is the lock: of two concurrent submits, exactly one changes the row.
    changed = db.session.execute(
        update(Response)
        .where(Response.id == response.id, Response.status == ResponseStatus.IN_PROGRESS)
        .values(status=ResponseStatus.COMPLETE, completed_at=now, updated_at=now),
        execution_options={"synchronize_session": False},
    ).rowcount
    db.session.refresh(response)
    if changed != 1:
        return False
    if response.invitation is not None:
        response.invitation.completed_at = now
    db.session.flush()
    response_completed.send(response, now=now)
    return True


def record_phone_response(
    version: SurveyVersion,
    form: FormData,
    *,
    caller: User,
    now: datetime,
    contact: Contact | None = None,
    opportunity: Opportunity | None = None,
    invitation: Invitation | None = None,
    complete: bool = True,
    response: Response | None = None,
) -> tuple[Response, dict[int, str]]:
    """A caller fills the same version during a call: every visible page at once, channel phone.

    With an invitation, the call continues the customer's own web response if one exists; with a
    `response` (the call's own, saved as the caller types), that one is continued.
    Returns the response and {question id: error}; on errors nothing is completed.
    """
    if response is not None:
        pass
    elif invitation is not None:
        response = start_response(version, channel=ResponseChannel.PHONE, now=now, invitation=invitation)
        if response.channel is not ResponseChannel.PHONE and response.status is ResponseStatus.IN_PROGRESS:
            response.channel = ResponseChannel.PHONE
            response.caller_id = caller.id
    else:
        response = start_response(
            version,
            channel=ResponseChannel.PHONE,
            now=now,
            contact=contact,
            opportunity=opportunity,
            caller=caller,
        )
    errors: dict[int, str] = {}
    seen: set[int] = set()
    # Pages may appear as earlier answers are stored; repeat until no new page shows up.
    while True:
        pages = [n for n, _ in visible_pages(version, stored_values(response)) if n not in seen]
        if not pages:
            break
        for number in pages:
            seen.add(number)
            errors.update(save_page(response, number, form, now=now, check_required=complete))
    if complete and not errors:
        complete_response(response, now=now)
    return response, errors
