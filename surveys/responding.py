"""Answering a survey: parse and check answers, save them page by page, complete once.

Used by the public respondent pages (channel web) and by callers during a call (channel phone).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app.auth.models import User
from app.crm.models import Contact, Opportunity
from app.errors import Conflict, ValidationError
from app.extensions import db
from surveys.cache import peek
from surveys.kinds import FormData, InvalidAnswer, Value, kind_of, value_of
from surveys.kinds.base import NEEDS_AN_ANSWER
from surveys.models import (
    Answer,
    Invitation,
    Question,
    Response,
    ResponseChannel,
    ResponseStatus,
    SurveyVersion,
)
from surveys.signals import response_completed


class ResponseIncomplete(ValidationError):
    code = "response_incomplete"

    def __init__(self, message: str, *, page: int, errors: dict[int, str]) -> None:
        super().__init__(message)
        self.page = page
        self.errors = errors


class ResponseClosed(Conflict):
    code = "response_closed"


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


def parse_answer(question: Question, form: FormData) -> tuple[Value, str | None]:
    """The answer to one question from form fields named q<id> (and q<id>_other); an error or None."""
    kind = kind_of(question)
    try:
        value = kind.parse(question, form)
    except InvalidAnswer as refused:
        return refused.value, refused.message
    return value, kind.validate(question, value)


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


def _same(answer: Answer, value: Value) -> bool:
    return (list(answer.choices or []), answer.text, answer.number, answer.date_value) == (
        list(value.choices or []),
        value.text,
        value.number,
        value.date_value,
    )


def _store(response: Response, question: Question, value: Value, *, now: datetime) -> None:
    existing = response.answers_by_question().get(question.id)
    if value.empty:
        if existing is not None:
            response.answers.remove(existing)
        return
    if existing is not None and _same(existing, value):
        return  # unchanged: updated_at keeps saying when the answer last changed
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
            q.id: str(NEEDS_AN_ANSWER)
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
