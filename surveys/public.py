"""The respondent's pages at /s/<token>: no login, no staff navigation, rate-limited, no JS needed."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from flask import Blueprint, current_app, g, redirect, request, session, url_for
from flask_babel import format_date
from flask_wtf.csrf import generate_csrf
from sqlalchemy.exc import IntegrityError, OperationalError

from app.auth.guard import public
from app.crm.contacts import contact_language
from app.db_types import utcnow
from app.extensions import db
from app.i18n.languages import (
    LANGUAGES,
    default_language,
    normalise_language,
    set_page_language,
    template_gettext,
)
from app.messaging.optout import opt_out_url_for
from app.organisation.service import brand
from app.ratelimit import enforce
from surveys.answering import InvitationRow, LinkState, Outcome, answer_page, link_state, read_link
from surveys.cache import frozen_version, is_shared
from surveys.invitations import find_invitation
from surveys.models import Invitation
from surveys.opened import has_pending_opens, record_opened
from surveys.page_shell import respondent_page
from surveys.responding import Value, visible_pages
from surveys.tokens import hash_token, looks_like_token
from surveys.view_helpers import page_context

bp = Blueprint("survey_public", __name__, template_folder="templates")

SEEN_KEY = "surveys_seen"


def _rate_limit(token: str) -> None:
    """Per IP and per link, so guessing tokens and hammering one link are both slowed down."""
    config = current_app.config
    enforce(config["SURVEY_IP_RATE_LIMIT"], "survey-ip", request.remote_addr or "-")
    enforce(config["SURVEY_TOKEN_RATE_LIMIT"], "survey-token", hash_token(token)[:32])


_signed_csrf: dict[tuple[str, str, str], str] = {}


def _csrf_token() -> str:
    """Flask-WTF's CSRF token, signed once per session token in this process rather than on every page.

    Only while tokens never expire (WTF_CSRF_TIME_LIMIT None): a signed token stays valid as long as its
    session, and the POST is checked by Flask-WTF as always.
    """
    config = current_app.config
    if config.get("WTF_CSRF_TIME_LIMIT") is not None:
        return generate_csrf()
    field = config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    if session.get(field) is None:
        generate_csrf()  # gives the session its raw token, so the first page's signed token is the one kept
    raw = session[field]
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
    language = g.get("language") or default_language()
    variables = {
        "csrf_token": _csrf_token,
        "brand": brand(),
        "language": language,
        **template_gettext(language),
        **context,
    }
    return current_app.jinja_env.get_template(name).render(variables)


def _requested_language() -> str | None:
    return normalise_language(request.args.get("lang", "")[:16])


def _use_survey_language(version_id: int, contact_lang: str) -> str:
    """The page's language: `?lang=` where the survey has it, else the contact's where it has it, else the
    survey's own. The page's chrome and its texts are always in the same language."""
    languages = getattr(frozen_version(version_id), "languages", None) or (default_language(),)
    requested = _requested_language()
    language = next((code for code in (requested, contact_lang) if code in languages), languages[0])
    set_page_language(language)
    return language


def _carried_language() -> str | None:
    """The language a respondent chose with `?lang=`, kept on the next pages' links (else the contact's)."""
    return g.get("language") if request.args.get("lang") else None


def _use_link_language(row: InvitationRow) -> None:
    _use_survey_language(row.version_id, row.contact_language)


def _use_chrome_language(contact_lang: str | None = None) -> None:
    """A page with no survey text (an unknown or closed link): the language asked for, else the contact's."""
    requested = _requested_language()
    set_page_language(requested if requested in LANGUAGES else contact_lang or default_language())


def _other_languages(version) -> list[tuple[str, str, str]]:
    """(code, name, link) of the languages the respondent can switch to (the language switcher)."""
    current = g.get("language")
    args = [(key, value) for key, value in request.args.items(multi=True) if key != "lang"]
    return [
        (code, LANGUAGES[code], f"{request.script_root}{request.path}?{urlencode([*args, ('lang', code)])}")
        for code in getattr(version, "languages", ())
        if code != current
    ]


def _unavailable(
    state: LinkState = LinkState.UNKNOWN, contact_lang: str | None = None, closed_at: datetime | None = None
):
    """An unknown link, one already answered, or one that closed: each says so in its own words."""
    _use_chrome_language(contact_lang)
    if state is LinkState.ANSWERED:
        return _render("surveys/respondent/answered.html"), 200
    if state is LinkState.CLOSED:
        # The day it closed, written as the respondent's language writes dates ("3. Dezember 2026").
        until = format_date(closed_at, format="long") if closed_at else None
        return _render("surveys/respondent/closed.html", until=until), 410
    return _render("surveys/respondent/unavailable.html"), 404


def _seen(token_hash: str) -> bool:
    return token_hash[:16] in session.get(SEEN_KEY, [])


def _mark_seen(token_hash: str) -> None:
    if _seen(token_hash):
        return  # the cookie is not rewritten on every page
    seen = session.get(SEEN_KEY, [])
    session[SEEN_KEY] = [*seen[-9:], token_hash[:16]]


def _unsubscribe_url(invitation: Invitation) -> str:
    return opt_out_url_for(invitation.contact_id, invitation.channel)


def _render_page(invitation, response, page, *, form=None, errors=None, status=200, values=None):
    version = frozen_version(invitation.version_id, g.get("language"))
    context = page_context(version, response, page, form=form, errors=errors or {}, values=values)
    respondent = {
        "action": url_for(
            "survey_public.respond", token=request.view_args["token"], lang=_carried_language()
        ),
        "questions_html": context.pop("questions_html"),
        "unsubscribe_url": _unsubscribe_url(invitation),
        "other_languages": _other_languages(version),
    }

    def render(**slots) -> str:
        return _render(_PAGE, **context, **slots, preview=False)

    if errors or not is_shared(version):  # a page with errors says which: rendered whole
        return render(**respondent), status
    return respondent_page(_shell_key(version, context), render, csrf_token=_csrf_token, **respondent), status


_PAGE = "surveys/respondent/page.html"


def _shell_key(version, context: dict) -> tuple:
    """Everything a page without errors shows besides the respondent's own values (page_shell). The
    version is the shared frozen copy itself: a publish, which clears those, starts new shells."""
    return (
        version,
        g.get("language"),
        request.script_root,
        brand(),
        *(context[name] for name in ("page", "page_index", "page_count", "page_count_is_estimate")),
        *(context[name] for name in ("progress_text", "is_first", "is_last")),
    )


@bp.route("/s/<token>", methods=["GET", "POST"])
@public
def respond(token: str):
    _rate_limit(token)
    now = utcnow()
    if request.method == "GET":
        return _show(token, now)
    for _attempt in range(3):  # a concurrent double submit loses the race once, then sees the result
        try:
            result = answer_page(token, request.form, now=now, on_open=_use_link_language)
            if result.outcome is Outcome.UNAVAILABLE:
                db.session.rollback()
            else:
                db.session.commit()
            break
        except (IntegrityError, OperationalError):
            db.session.rollback()
    else:
        return _unavailable()
    if result.outcome is Outcome.UNAVAILABLE:
        if result.state is LinkState.ANSWERED and _seen(result.token_hash):
            return redirect(url_for("survey_public.thanks", token=token))  # a replayed final submit
        return _unavailable(result.state)
    _mark_seen(result.token_hash)
    language = _carried_language()
    if result.outcome is Outcome.MOVED:
        return redirect(url_for("survey_public.respond", token=token, page=result.page, lang=language))
    if result.outcome is Outcome.INVALID:
        return _render_page(
            result.invitation,
            result.response,
            result.page,
            form=result.form,
            errors=result.errors,
            status=422,
        )
    return redirect(url_for("survey_public.thanks", token=token, lang=language))


def _show(token: str, now: datetime):
    """A GET: one read on a pooled driver connection (no ORM session), and a write only on the first open."""
    invitation, response = read_link(token, db.engine)
    state = link_state(invitation, response, now)
    if state is not LinkState.OPEN:
        if invitation is None:
            return _unavailable(state)
        expired = invitation.expires_at if invitation.expires_at and invitation.expires_at <= now else None
        return _unavailable(state, invitation.contact_language, expired)
    if invitation.opened_at is None or has_pending_opens():  # never a 500 for a busy database
        with db.engine.connect() as connection:
            record_opened(connection, invitation.id if invitation.opened_at is None else None, now)
    _mark_seen(invitation.token_hash)
    _use_link_language(invitation)
    values = response.values if response else {}
    page = _allowed_page(invitation, response, values, request.args.get("page", type=int))
    return _render_page(invitation, None, page, values=values)


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


@bp.get("/s/<token>/thanks")
@public
def thanks(token: str):
    _rate_limit(token)
    invitation = find_invitation(token if looks_like_token(token) else "-")
    if invitation is None or invitation.completed_at is None:
        return _unavailable()
    contact_lang = contact_language(invitation.contact)
    if not _seen(invitation.token_hash):
        return _unavailable(LinkState.ANSWERED, contact_lang)
    language = _use_survey_language(invitation.version_id, contact_lang)
    version = frozen_version(invitation.version_id, language)
    return _render(
        "surveys/respondent/thanks.html",
        version=version,
        unsubscribe_url=_unsubscribe_url(invitation),
        other_languages=_other_languages(version),
    )
