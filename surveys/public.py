"""The respondent's pages at /s/<token>: no login, no staff navigation, rate-limited, no JS needed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, current_app, redirect, request, session, url_for
from flask_wtf.csrf import generate_csrf
from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import contains_eager
from werkzeug.datastructures import MultiDict

from app.auth.guard import public
from app.crm.models import Channel
from app.db_types import utcnow
from app.extensions import db
from app.messaging.optout import opt_out_url_for
from app.ratelimit import enforce
from surveys.cache import frozen_version
from surveys.invitations import find_invitation
from surveys.models import Answer, Invitation, Response, ResponseChannel, ResponseStatus
from surveys.opened import has_pending_opens, record_opened
from surveys.responding import (
    ResponseClosed,
    ResponseIncomplete,
    Value,
    complete_response,
    move_to,
    navigate,
    parse_page,
    save_page,
    start_response,
    upsert_answers,
    visible_pages,
)
from surveys.tokens import hash_token, looks_like_token
from surveys.view_helpers import page_context

bp = Blueprint("survey_public", __name__, template_folder="templates")

SEEN_KEY = "surveys_seen"


def _rate_limit(token: str) -> None:
    """Per IP and per link, so guessing tokens and hammering one link are both slowed down."""
    config = current_app.config
    enforce(config["SURVEY_IP_RATE_LIMIT"], "survey-ip", request.remote_addr or "-")
    enforce(config["SURVEY_TOKEN_RATE_LIMIT"], "survey-token", hash_token(token)[:32])


def _lookup(token: str) -> Invitation | None:
    # Malformed tokens still cost one hash and one indexed query, like real ones.
    return find_invitation(token if looks_like_token(token) else "-")


def _load(token: str) -> tuple[Invitation | None, Response | None]:
    """The invitation, its response to the invitation's version and the answers: one query.

    Malformed tokens still cost one hash and the same indexed query, like real ones.
    """
    token_hash = hash_token(token if looks_like_token(token) else "-")
    rows = db.session.execute(
        select(Invitation, Response)
        .outerjoin(
            Response,
            and_(Response.invitation_id == Invitation.id, Response.version_id == Invitation.version_id),
        )
        .outerjoin(Answer, Answer.response_id == Response.id)
        .where(Invitation.token_hash == token_hash)
        .options(contains_eager(Response.answers))
    ).unique()
    row = rows.first()
    return (row[0], row[1]) if row is not None else (None, None)


@dataclass(frozen=True)
class _InvitationRow:
    """The invitation columns a respondent GET needs (read with Core: no ORM objects on that path)."""

    id: int
    version_id: int
    contact_id: int
    channel: Channel
    token_hash: str
    opened_at: datetime | None
    completed_at: datetime | None
    expires_at: datetime | None

    is_open = Invitation.is_open


@dataclass(frozen=True)
class _ResponseRow:
    id: int
    status: ResponseStatus
    current_page: int
    furthest_page: int
    values: dict[int, Value]


_INVITATION_COLUMNS = tuple(
    getattr(Invitation.__table__.c, name) for name in _InvitationRow.__dataclass_fields__
)
_READ = (
    select(
        *_INVITATION_COLUMNS,
        Response.__table__.c.id.label("response_id"),
        Response.__table__.c.status,
        Response.__table__.c.current_page,
        Response.__table__.c.furthest_page,
        Answer.__table__.c.question_id,
        Answer.__table__.c.choices,
        Answer.__table__.c.text,
        Answer.__table__.c.number,
        Answer.__table__.c.date_value,
    )
    .select_from(
        Invitation.__table__.outerjoin(
            Response.__table__,
            and_(
                Response.__table__.c.invitation_id == Invitation.__table__.c.id,
                Response.__table__.c.version_id == Invitation.__table__.c.version_id,
            ),
        ).outerjoin(Answer.__table__, Answer.__table__.c.response_id == Response.__table__.c.id)
    )
    .where(Invitation.__table__.c.token_hash == bindparam("token_hash"))
)


def _read(token: str, connection: Connection) -> tuple[_InvitationRow | None, _ResponseRow | None]:
    """What a GET shows: invitation, response and answers in one Core query (one row per answer)."""
    token_hash = hash_token(token if looks_like_token(token) else "-")
    rows = connection.execute(_READ, {"token_hash": token_hash}).all()
    if not rows:
        return None, None
    first = rows[0]
    width = len(_INVITATION_COLUMNS)
    invitation = _InvitationRow(*first[:width])
    response_id, status, current_page, furthest_page = first[width : width + 4]
    if response_id is None:
        return invitation, None
    values = {
        row.question_id: Value(
            choices=list(row.choices or []), text=row.text, number=row.number, date_value=row.date_value
        )
        for row in rows
        if row.question_id is not None
    }
    return invitation, _ResponseRow(response_id, status, current_page, furthest_page, values)


_signed_csrf: dict[tuple[str, str, str], str] = {}


def _csrf_token() -> str:
    """Flask-WTF's CSRF token, signed once per session token in this process rather than on every page.

    Only while tokens never expire (WTF_CSRF_TIME_LIMIT None): a signed token stays valid as long as its
    session, and the POST is checked by Flask-WTF as always.
    """
    config = current_app.config
    raw = session.get(config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))
    if raw is None or config.get("WTF_CSRF_TIME_LIMIT") is not None:
        return generate_csrf()
    key = (
        config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key,
        config.get("WTF_CSRF_FIELD_NAME", ""),
        raw,
    )
    signed = _signed_csrf.get(key)
    if signed is None:
        if len(_signed_csrf) >= 10_000:
            _signed_csrf.clear()
        signed = _signed_csrf[key] = generate_csrf()
    return signed


def _render(name: str, **context) -> str:
    """A respondent template with only its own context (and the env's globals: url_for, csrf_token).

    Skips the app's context processors: these pages have no staff menu and never load a user.
    """
    return current_app.jinja_env.get_template(name).render(context, csrf_token=_csrf_token)


def _unavailable():
    """One page for unknown, expired, completed and closed links: same words, same status."""
    return _render("surveys/respondent/unavailable.html"), 404


def _seen(invitation: Invitation) -> bool:
    return invitation.token_hash[:16] in session.get(SEEN_KEY, [])


def _mark_seen(invitation: Invitation) -> None:
    if _seen(invitation):
        return  # the cookie is not rewritten on every page
    seen = session.get(SEEN_KEY, [])
    session[SEEN_KEY] = [*seen[-9:], invitation.token_hash[:16]]


def _unsubscribe_url(invitation: Invitation) -> str:
    return opt_out_url_for(invitation.contact_id, invitation.channel)


def _render_page(invitation, response, page, *, form=None, errors=None, status=200, values=None):
    context = page_context(
        frozen_version(invitation.version_id),
        response,
        page,
        form=form,
        errors=errors or {},
        values=values,
    )
    return (
        _render(
            "surveys/respondent/page.html",
            **context,
            action=url_for("survey_public.respond", token=request.view_args["token"]),
            unsubscribe_url=_unsubscribe_url(invitation),
            preview=False,
        ),
        status,
    )


@bp.route("/s/<token>", methods=["GET", "POST"])
@public
def respond(token: str):
    _rate_limit(token)
    now = utcnow()
    if request.method == "GET":
        return _show(token, now)
    invitation, response = _read(token, db.session.connection())
    if invitation is None:
        return _unavailable()
    if not _answerable(invitation, response, now):
        if invitation.completed_at is not None and _seen(invitation):
            return redirect(url_for("survey_public.thanks", token=token))  # a replayed final submit
        return _unavailable()
    _mark_seen(invitation)
    if response is not None and response.status is ResponseStatus.IN_PROGRESS:
        moved = _save_page_and_move(invitation, response, now)
        if moved is not None:
            return moved
    invitation, response = _load(token)  # first page, errors or the final submit: the full path
    for _attempt in range(3):  # a concurrent double submit loses the race once, then sees the result
        try:
            return _handle_post(invitation, response, now)
        except (IntegrityError, OperationalError):
            db.session.rollback()
            invitation, response = _load(token)
            if invitation is None:
                break
    return _unavailable()


_RESPONSES = Response.__table__
_MOVE = (
    update(_RESPONSES)
    .where(_RESPONSES.c.id == bindparam("b_id"), _RESPONSES.c.status == bindparam("b_status"))
    .values(
        current_page=bindparam("b_page"),
        furthest_page=bindparam("b_furthest"),
        updated_at=bindparam("b_now", type_=_RESPONSES.c.updated_at.type),
    )
)


def _answerable(invitation: _InvitationRow, response: _ResponseRow | None, now: datetime) -> bool:
    return invitation.is_open(now) and (response is None or response.status is not ResponseStatus.CLOSED)


def _show(token: str, now: datetime):
    """A GET: one read on a connection of its own (no ORM session), and a write only on the first open."""
    with db.engine.connect() as connection:
        invitation, response = _read(token, connection)
        if invitation is None or not _answerable(invitation, response, now):
            return _unavailable()
        if invitation.opened_at is None or has_pending_opens():  # never a 500 for a busy database
            record_opened(connection, invitation.id if invitation.opened_at is None else None, now)
    _mark_seen(invitation)
    values = response.values if response else {}
    page = _allowed_page(invitation, response, values, request.args.get("page", type=int))
    return _render_page(invitation, None, page, values=values)


def _save_page_and_move(invitation: _InvitationRow, response: _ResponseRow, now: datetime):
    """The common POST, set-based: the page's answers upserted, the response moved on, one commit.

    Returns the redirect, or None (nothing written) when the page has errors, is the last one or the
    response changed meanwhile: the ORM path handles those.
    """
    version = frozen_version(invitation.version_id)
    page = request.form.get("page", type=int) or response.current_page
    action = request.form.get("action", "next")
    parsed, errors = parse_page(version, response.values, page, request.form, check_required=action != "back")
    if errors or not parsed:
        return None
    values = {**response.values, **parsed}
    numbers = [number for number, _ in visible_pages(version, values)]
    if page not in numbers:
        return None
    index = numbers.index(page) + (-1 if action == "back" else 1)
    if index >= len(numbers):
        return None  # the final submit
    target = numbers[max(index, 0)]
    connection = db.session.connection()
    moved = connection.execute(
        _MOVE,
        {
            "b_id": response.id,
            "b_status": ResponseStatus.IN_PROGRESS,
            "b_page": target,
            "b_furthest": max(response.furthest_page, target),
            "b_now": now,
        },
    ).rowcount
    if moved != 1:
        db.session.rollback()
        return None
    upsert_answers(response.id, parsed, now=now)
    db.session.commit()
    return redirect(url_for("survey_public.respond", token=request.view_args["token"], page=target))


def _allowed_page(invitation, response, values: dict[int, Value], page: int | None) -> int:
    numbers = [number for number, _ in visible_pages(frozen_version(invitation.version_id), values)]
    if not numbers:
        return 1
    furthest = response.furthest_page if response else numbers[0]
    if page in numbers and page <= furthest:
        return page
    if response and response.current_page in numbers:
        return response.current_page
    return numbers[0]


def _handle_post(invitation: Invitation, response: Response | None, now):
    token = request.view_args["token"]
    if response is None:  # the first page sent; a lost race is retried with the winner's response
        response = start_response(
            frozen_version(invitation.version_id), channel=ResponseChannel.WEB, now=now, invitation=invitation
        )
    if response.status is ResponseStatus.COMPLETE:
        db.session.commit()
        return redirect(url_for("survey_public.thanks", token=token))
    page = request.form.get("page", type=int) or response.current_page
    action = request.form.get("action", "next")
    try:
        errors = save_page(response, page, request.form, now=now, check_required=action != "back")
    except ResponseClosed:
        db.session.rollback()
        return redirect(url_for("survey_public.thanks", token=token))
    if errors:
        db.session.commit()  # the valid answers on the page are kept
        return _render_page(invitation, response, page, form=request.form, errors=errors, status=422)
    target = navigate(response, page, direction=-1 if action == "back" else 1)
    if target is not None:
        move_to(response, target)
        db.session.commit()
        return redirect(url_for("survey_public.respond", token=token, page=target))
    try:
        complete_response(response, now=now)
    except ResponseIncomplete as incomplete:
        move_to(response, incomplete.page)
        db.session.commit()
        return _render_page(
            invitation, response, incomplete.page, form=MultiDict(), errors=incomplete.errors, status=422
        )
    db.session.commit()
    return redirect(url_for("survey_public.thanks", token=token))


@bp.get("/s/<token>/thanks")
@public
def thanks(token: str):
    _rate_limit(token)
    invitation = _lookup(token)
    if invitation is None or invitation.completed_at is None or not _seen(invitation):
        return _unavailable()
    return _render(
        "surveys/respondent/thanks.html",
        version=frozen_version(invitation.version_id),
        unsubscribe_url=_unsubscribe_url(invitation),
    )
