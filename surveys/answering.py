"""A respondent answers one page of a survey link: the one save path of the public survey pages.

`answer_page` owns both ways a page is saved. The common case (an in-progress response moving to the
next or previous page) is set-based: Core reads and writes, no ORM objects. Everything else (the first
page, a page with errors, the final submit, a response changed meanwhile) goes through the ORM
services of `surveys.responding`, which the phone form uses too.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import contains_eager
from werkzeug.datastructures import MultiDict

from app.crm.models import Account, Contact
from app.database import DriverQuery
from app.extensions import db
from app.i18n.languages import resolve_language
from app.messaging.channels import Channel
from surveys.cache import frozen_version
from surveys.models import Answer, Invitation, Response, ResponseChannel, ResponseStatus
from surveys.responding import (
    FormData,
    ResponseClosed,
    ResponseIncomplete,
    Value,
    complete_response,
    move_to,
    navigate,
    next_page,
    parse_page,
    save_page,
    start_response,
    upsert_answers,
)
from surveys.tokens import hash_token, looks_like_token


class LinkState(enum.Enum):
    UNKNOWN = "unknown"  # no such link
    OPEN = "open"
    ANSWERED = "answered"  # the respondent finished: "You've already answered, thank you"
    CLOSED = "closed"  # expired, or left unfinished past the deadline


@dataclass(frozen=True)
class InvitationRow:
    """The invitation columns the respondent pages need (read with Core: no ORM objects on that path)."""

    id: int
    version_id: int
    contact_id: int
    channel: Channel
    token_hash: str
    opened_at: datetime | None
    completed_at: datetime | None
    expires_at: datetime | None
    contact_language: str = "en"  # the contact's language (app.i18n.languages.resolve_language)

    is_open = Invitation.is_open


@dataclass(frozen=True)
class ResponseRow:
    id: int
    status: ResponseStatus
    current_page: int
    furthest_page: int
    values: dict[int, Value]


_INVITATIONS = Invitation.__table__
_RESPONSES = Response.__table__
_ANSWERS = Answer.__table__
_CONTACTS = Contact.__table__
_ACCOUNTS = Account.__table__
_INVITATION_COLUMNS = tuple(
    getattr(_INVITATIONS.c, name) for name in InvitationRow.__dataclass_fields__ if name != "contact_language"
)
# What the contact's language is chosen from: their own, their country's, their account's country's.
_LANGUAGE_COLUMNS = (_CONTACTS.c.language, _CONTACTS.c.country, _ACCOUNTS.c.country.label("account_country"))
_READ = DriverQuery(
    select(
        *_INVITATION_COLUMNS,
        *_LANGUAGE_COLUMNS,
        _RESPONSES.c.id.label("response_id"),
        _RESPONSES.c.status,
        _RESPONSES.c.current_page,
        _RESPONSES.c.furthest_page,
        _ANSWERS.c.question_id,
        _ANSWERS.c.choices,
        _ANSWERS.c.text,
        _ANSWERS.c.number,
        _ANSWERS.c.date_value,
    )
    .select_from(
        _INVITATIONS.join(_CONTACTS, _CONTACTS.c.id == _INVITATIONS.c.contact_id)
        .join(_ACCOUNTS, _ACCOUNTS.c.id == _CONTACTS.c.account_id)
        .outerjoin(
            _RESPONSES,
            and_(
                _RESPONSES.c.invitation_id == _INVITATIONS.c.id,
                _RESPONSES.c.version_id == _INVITATIONS.c.version_id,
            ),
        )
        .outerjoin(_ANSWERS, _ANSWERS.c.response_id == _RESPONSES.c.id)
    )
    .where(_INVITATIONS.c.token_hash == bindparam("token_hash"))
)


def _token_hash(token: str) -> str:
    # Malformed tokens still cost one hash and one indexed query, like real ones.
    return hash_token(token if looks_like_token(token) else "-")


def read_link(token: str, connection: Connection | Engine) -> tuple[InvitationRow | None, ResponseRow | None]:
    """The invitation, its response to the invitation's version and the answers: one query, on the
    driver's cursor (the busiest read the app does). An engine lends a connection for the read only."""
    rows = _READ.rows(connection, token_hash=_token_hash(token))
    if not rows:
        return None, None
    first = rows[0]
    width = len(_INVITATION_COLUMNS)
    invitation = InvitationRow(*first[:width], contact_language=resolve_language(*first[width : width + 3]))
    width += len(_LANGUAGE_COLUMNS)
    response_id, status, current_page, furthest_page = first[width : width + 4]
    if response_id is None:
        return invitation, None
    width += 4
    values = {
        question_id: Value(choices=list(choices or []), text=text, number=number, date_value=date_value)
        for question_id, choices, text, number, date_value in (row[width:] for row in rows)
        if question_id is not None
    }
    return invitation, ResponseRow(response_id, status, current_page, furthest_page, values)


def link_state(invitation: InvitationRow | None, response: ResponseRow | None, now: datetime) -> LinkState:
    if invitation is None:
        return LinkState.UNKNOWN
    if invitation.completed_at is not None:
        return LinkState.ANSWERED
    if not invitation.is_open(now) or (response is not None and response.status is ResponseStatus.CLOSED):
        return LinkState.CLOSED
    return LinkState.OPEN


def _load(token: str) -> tuple[Invitation | None, Response | None]:
    """The invitation, its response to the invitation's version and the answers, as ORM objects."""
    rows = db.session.execute(
        select(Invitation, Response)
        .outerjoin(
            Response,
            and_(Response.invitation_id == Invitation.id, Response.version_id == Invitation.version_id),
        )
        .outerjoin(Answer, Answer.response_id == Response.id)
        .where(Invitation.token_hash == _token_hash(token))
        .options(contains_eager(Response.answers))
        # The fast path writes with Core: objects this session already holds would be stale.
        .execution_options(populate_existing=True)
    ).unique()
    row = rows.first()
    return (row[0], row[1]) if row is not None else (None, None)


class Outcome(enum.Enum):
    MOVED = "moved"  # saved; show `page`
    INVALID = "invalid"  # the valid answers were saved; show `page` again with `errors`
    COMPLETED = "completed"  # the response is complete (now or by an earlier submit)
    UNAVAILABLE = "unavailable"  # the link is unknown, answered or closed: see `state`


@dataclass
class PageResult:
    outcome: Outcome
    state: LinkState = LinkState.OPEN
    token_hash: str = ""
    page: int | None = None
    errors: dict[int, str] = field(default_factory=dict)
    invitation: Invitation | None = None  # INVALID: what the page is rendered with
    response: Response | None = None
    form: FormData | None = None


_MOVE = (
    update(_RESPONSES)
    .where(_RESPONSES.c.id == bindparam("b_id"), _RESPONSES.c.status == bindparam("b_status"))
    .values(
        current_page=bindparam("b_page"),
        furthest_page=bindparam("b_furthest"),
        updated_at=bindparam("b_now", type_=_RESPONSES.c.updated_at.type),
    )
)


def _save_and_move(
    invitation: InvitationRow, response: ResponseRow, form: FormData, page: int, direction: int, now: datetime
) -> int | None:
    """The common case, set-based: the page's answers upserted and the response moved on.

    Returns the page to show, or None (nothing written) when the page has errors, is the last one
    or the response changed meanwhile: the ORM path handles those.
    """
    version = frozen_version(invitation.version_id)
    parsed, errors = parse_page(version, response.values, page, form, check_required=direction > 0)
    if errors or not parsed:  # parsed is empty when the page is not visible
        return None
    target = next_page(version, {**response.values, **parsed}, page, direction=direction)
    if target is None:
        return None  # the final submit
    moved = (
        db.session.connection()
        .execute(
            _MOVE,
            {
                "b_id": response.id,
                "b_status": ResponseStatus.IN_PROGRESS,
                "b_page": target,
                "b_furthest": max(response.furthest_page, target),
                "b_now": now,
            },
        )
        .rowcount
    )
    if moved != 1:
        return None
    upsert_answers(response.id, parsed, now=now)
    return target


def _answer(
    invitation: Invitation, response: Response | None, form: FormData, page: int | None, direction: int, now
):
    """The full path through the ORM services: first page, errors, final submit."""
    if response is None:  # the first page sent; a lost race is retried with the winner's response
        response = start_response(
            frozen_version(invitation.version_id), channel=ResponseChannel.WEB, now=now, invitation=invitation
        )
    if response.status is ResponseStatus.COMPLETE:
        return PageResult(Outcome.COMPLETED)
    page = page or response.current_page
    errors = save_page(response, page, form, now=now, check_required=direction > 0)
    if errors:  # the valid answers on the page are kept
        return PageResult(
            Outcome.INVALID, page=page, errors=errors, invitation=invitation, response=response, form=form
        )
    target = navigate(response, page, direction=direction)
    if target is not None:
        move_to(response, target)
        return PageResult(Outcome.MOVED, page=target)
    try:
        complete_response(response, now=now)
    except ResponseIncomplete as incomplete:
        move_to(response, incomplete.page)
        return PageResult(
            Outcome.INVALID,
            page=incomplete.page,
            errors=incomplete.errors,
            invitation=invitation,
            response=response,
            form=MultiDict(),
        )
    return PageResult(Outcome.COMPLETED)


def _page_number(form: FormData) -> int | None:
    raw = (form.getlist("page") or [""])[0]
    try:
        return int(raw) if len(raw) < 6 else None
    except ValueError:
        return None


def answer_page(
    token: str, form: FormData, *, now: datetime, on_open: Callable[[InvitationRow], object] | None = None
) -> PageResult:
    """Save one page of answers sent to a survey link and say where the respondent goes next.

    `form` holds the answers (q<id> fields), `page` and `action` (next, back or submit). Adds and
    flushes; the caller commits (on IntegrityError or OperationalError: rolls back and calls again).
    `on_open` is told the open link before anything is checked (the page picks its language there).
    """
    row, response_row = read_link(token, db.session.connection())
    state = link_state(row, response_row, now)
    if state is not LinkState.OPEN:
        return PageResult(Outcome.UNAVAILABLE, state=state, token_hash=row.token_hash if row else "")
    if on_open is not None:
        on_open(row)
    page = _page_number(form)
    actions = form.getlist("action")
    direction = -1 if actions and actions[0] == "back" else 1
    if response_row is not None and response_row.status is ResponseStatus.IN_PROGRESS:
        target = _save_and_move(row, response_row, form, page or response_row.current_page, direction, now)
        if target is not None:
            return PageResult(Outcome.MOVED, token_hash=row.token_hash, page=target)
    invitation, response = _load(token)
    try:
        result = _answer(invitation, response, form, page, direction, now)
    except ResponseClosed:
        return PageResult(Outcome.UNAVAILABLE, state=LinkState.CLOSED, token_hash=row.token_hash)
    result.token_hash = row.token_hash
    return result
