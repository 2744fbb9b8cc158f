"""Invitations and reminders: the contract campaigns/ builds on. Services flush, callers commit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from flask import current_app
from flask_babel import get_locale
from markupsafe import escape
from sqlalchemy import or_, select, update
from sqlalchemy.orm import joinedload

from app.crm.contacts import contact_language
from app.crm.models import Contact, Opportunity
from app.errors import Conflict, ValidationError
from app.extensions import db
from app.i18n.languages import use_language
from app.messaging.channels import Channel
from app.messaging.links import public_base_url
from app.messaging.merge import render_merge
from app.messaging.models import OutboundMessage
from app.messaging.optout import opt_out_url
from app.messaging.service import enqueue_message
from app.messaging.suppression import contact_suppression_reason
from app.organisation.service import email_footer, read_brand
from surveys.cache import translated_messages, version_languages
from surveys.models import Invitation, Response, ResponseStatus, SurveyVersion, VersionStatus
from surveys.signals import reminder_wordings_asked
from surveys.tokens import hash_token, new_nonce, token_for

MessageKind = Literal["invitation", "reminder"]
INVITATION_CHANNELS = (Channel.EMAIL, Channel.SMS)


@dataclass(frozen=True)
class MessageTemplates:
    """The words of an invitation or reminder; merge fields in {{ double braces }}."""

    email_subject: str
    email_text: str
    email_html: str | None
    sms_text: str


DEFAULT_TEMPLATES = MessageTemplates(
    email_subject="Two minutes on why you chose another vendor?",
    email_text=(
        "Hello {{ first_name }},\n\n"
        "You recently chose another solution over ours at {{ company }}. We would value your honest "
        "view: it takes about two minutes, and you can stop and continue later with the same link.\n\n"
        "{{ survey_link }}\n\n"
        "Thank you,\n{{ sender }}\n"
    ),
    email_html=(
        "<p>Hello {{ first_name }},</p>"
        "<p>You recently chose another solution over ours at {{ company }}. We would value your honest "
        "view: it takes about two minutes, and you can stop and continue later with the same link.</p>"
        '<p><a href="{{ survey_link }}">Answer the survey</a></p>'
        "<p>Thank you,<br>{{ sender }}</p>"
    ),
    sms_text=(
        "Hi {{ first_name }}, {{ sender }} here: 2 minutes on why you chose another vendor? "
        "{{ survey_link }} Opt out: {{ opt_out_link }}"
    ),
)


DEFAULT_SENDER = "The Winback team"


class InvitationNotSendable(Conflict):
    code = "invitation_not_sendable"


def create_invitation(
    version: SurveyVersion,
    contact: Contact,
    *,
    channel: Channel,
    now: datetime,
    opportunity: Opportunity | None = None,
    expires_at: datetime | None = None,
    reminder_max: int = 2,
    reminder_min_days: int = 3,
) -> Invitation:
    """A personal link for a contact to a published version (nothing is sent yet)."""
    if version.status is not VersionStatus.PUBLISHED:
        raise ValidationError("Invitations go to a published survey version.")
    if channel not in INVITATION_CHANNELS:
        raise ValidationError("Survey invitations go by email or SMS.", field="channel")
    if reminder_max < 0 or reminder_min_days < 0:
        raise ValidationError("Reminder counts and delays cannot be negative.")
    nonce = new_nonce()
    invitation = Invitation(
        version=version,
        contact=contact,
        opportunity=opportunity,
        channel=channel,
        nonce=nonce,
        token_hash=hash_token(token_for(nonce)),
        created_at=now,
        expires_at=expires_at,
        reminder_max=reminder_max,
        reminder_min_days=reminder_min_days,
    )
    db.session.add(invitation)
    db.session.flush()
    return invitation


def invitation_token(invitation: Invitation) -> str:
    return token_for(invitation.nonce)


def invitation_link(invitation: Invitation) -> str:
    """The absolute public link, the same for the invitation and every reminder."""
    base = public_base_url()
    return f"{base}/s/{invitation_token(invitation)}"


def find_invitation(token: str) -> Invitation | None:
    """The invitation a token opens, by its hash; None when no invitation has it."""
    return db.session.scalar(select(Invitation).where(Invitation.token_hash == hash_token(token)))


def merge_fields(invitation: Invitation, *, sender: str) -> dict[str, str]:
    contact = invitation.contact
    return {
        "first_name": contact.first_name or "there",
        "last_name": contact.last_name or "",
        "company": contact.account.name if contact.account else "",
        "survey_link": invitation_link(invitation),
        "opt_out_link": opt_out_url(contact, invitation.channel),
        "sender": sender,
    }


def message_language(invitation: Invitation) -> str:
    """The language the contact is written to in: theirs when the survey is translated into it, else the
    survey's own (the campaign page says so before activation)."""
    wanted = contact_language(invitation.contact)
    languages = version_languages(invitation.version)
    return wanted if wanted in languages else languages[0]


def translated_templates(
    invitation: Invitation, templates: MessageTemplates, kind: MessageKind, language: str
) -> MessageTemplates:
    """The invitation or reminder words in `language`, from the survey's translation; else `templates`."""
    texts = translated_messages(invitation.version, language)
    if not texts:
        return templates
    prefix = "email" if kind == "invitation" else "reminder"
    return MessageTemplates(
        email_subject=texts.get(f"message.{prefix}_subject", templates.email_subject),
        email_text=texts.get(f"message.{prefix}_text", templates.email_text),
        email_html=None,  # the translated words are plain text; the HTML part would be the source language's
        sms_text=texts.get("message.sms_text", templates.sms_text),
    )


def queue_invitation_message(
    invitation: Invitation,
    templates: MessageTemplates,
    *,
    kind: MessageKind,
    now: datetime,
    sender: str,
    from_address: str | None = None,
    reply_to: str | None = None,
) -> OutboundMessage:
    """Write the invitation or the next reminder to the outbox, once (idempotency key).

    `from_address` and `reply_to` ("Name <address>") are the email's From and Reply-To; without them the
    transport's MAIL_FROM is used. Every email ends with the organisation's name, postal address and
    the unsubscribe link. Written in the contact's language (message_language), in the survey
    translation's words if it has them.
    """
    if kind not in ("invitation", "reminder"):
        raise ValidationError("kind is 'invitation' or 'reminder'")
    if not invitation.is_open(now):
        raise InvitationNotSendable("This invitation is completed or expired: nothing more is sent.")
    reason = contact_suppression_reason(invitation.contact, invitation.channel)
    if reason is not None:
        raise InvitationNotSendable(f"The contact cannot be reached by {invitation.channel.value}: {reason}.")
    if kind == "reminder":
        if invitation.sent_at is None:
            raise InvitationNotSendable("A reminder follows an invitation that was sent.")
        if invitation.reminders_sent >= invitation.reminder_max:
            raise InvitationNotSendable("The maximum number of reminders was sent.")
        n = invitation.reminders_sent + 1
    else:
        n = 0
    language = message_language(invitation)
    with use_language(language):
        words = translated_templates(invitation, templates, kind, language)
        message = _queue(
            invitation, words, kind, n, now=now, sender=sender, addresses=(from_address, reply_to)
        )
    if kind == "invitation":
        invitation.sent_at = invitation.sent_at or now
        invitation.last_sent_at = invitation.last_sent_at or now
    elif invitation.reminders_sent < n:
        invitation.reminders_sent = n
        invitation.last_sent_at = now
    db.session.flush()
    return message


def _queue(
    invitation: Invitation,
    templates: MessageTemplates,
    kind: MessageKind,
    n: int,
    *,
    now: datetime,
    sender: str,
    addresses: tuple[str | None, str | None],
) -> OutboundMessage:
    from_address, reply_to = addresses
    fields = merge_fields(invitation, sender=sender)
    contact = invitation.contact
    common = {
        "idempotency_key": f"invitation:{invitation.id}:{kind}:{n}",
        "contact": contact,
        "template": kind,
        "now": now,
        "meta": {
            "unsubscribe_url": fields["opt_out_link"],
            "invitation_id": invitation.id,
            "kind": kind,
            "n": n,
            "language": str(get_locale()),
        },
    }
    if invitation.channel is Channel.EMAIL:
        if from_address:
            common["meta"]["from"] = from_address
        if reply_to:
            common["meta"]["reply_to"] = reply_to
        current = read_brand()
        unsubscribe = fields["opt_out_link"]
        body_text = render_merge(templates.email_text, fields)
        body_text = f"{body_text.rstrip()}\n\n{email_footer(current, unsubscribe_url=unsubscribe)}"
        body_html = render_merge(templates.email_html, fields, html=True) if templates.email_html else None
        if body_html is not None:
            body_html += email_footer(current, unsubscribe_url=unsubscribe, html=True)
        if body_html is not None and current.has_logo:
            logo = f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/brand/logo?v={current.logo_version}"
            alt = escape(current.name or "Logo")
            body_html = f'<p><img src="{escape(logo)}" alt="{alt}" height="48"></p>' + body_html
        message = enqueue_message(
            channel=Channel.EMAIL,
            recipient=contact.email or "",
            subject=render_merge(templates.email_subject, fields),
            body_text=body_text,
            body_html=body_html,
            **common,
        )
    else:
        message = enqueue_message(
            channel=Channel.SMS,
            recipient=contact.phone or "",
            body_text=render_merge(templates.sms_text, fields),
            **common,
        )
    return message


def due_reminders(*, now: datetime) -> list[Invitation]:
    """Invitations sent, not completed, not expired, under their maximum, quiet for long enough."""
    return [invitation for batch in due_reminder_batches(now=now, batch_size=None) for invitation in batch]


def due_reminder_batches(*, now: datetime, batch_size: int | None = 2_000) -> Iterator[list[Invitation]]:
    """due_reminders, read `batch_size` candidates at a time (by id), so a caller can commit between."""
    after_id = 0
    while True:
        query = (
            select(Invitation)
            .where(
                Invitation.id > after_id,
                Invitation.completed_at.is_(None),
                Invitation.sent_at.is_not(None),
                Invitation.reminders_sent < Invitation.reminder_max,
                or_(Invitation.expires_at.is_(None), Invitation.expires_at > now),
                ~select(Response.id)
                .where(Response.invitation_id == Invitation.id, Response.status == ResponseStatus.CLOSED)
                .exists(),
            )
            .options(joinedload(Invitation.contact))
            .order_by(Invitation.id)
        )
        candidates = db.session.scalars(query.limit(batch_size) if batch_size else query).unique().all()
        if not candidates:
            return
        after_id = candidates[-1].id
        yield [
            invitation
            for invitation in candidates
            if invitation.last_sent_at is not None
            and invitation.last_sent_at + timedelta(days=invitation.reminder_min_days) <= now
            and contact_suppression_reason(invitation.contact, invitation.channel) is None
        ]
        if not batch_size or len(candidates) < batch_size:
            return


@dataclass(frozen=True)
class ReminderWording:
    """Who reminds an invitation, and in which words."""

    templates: MessageTemplates
    sender: str
    from_address: str | None = None
    reply_to: str | None = None


def reminder_wordings(
    invitations: list[Invitation], *, default: ReminderWording
) -> dict[int, ReminderWording]:
    """The wording of each invitation that may be reminded, by id; one left out must not be reminded.

    The packages that own invitations (campaigns) answer the reminder_wordings signal for theirs: their
    words, or None when their campaign is not active or the enrollment ended. An invitation nobody claims
    (sent from a survey by hand) is reminded in the default words.
    """
    claimed: dict[int, ReminderWording | None] = {}
    for _receiver, answer in reminder_wordings_asked.send(invitations):
        claimed.update(answer or {})
    wordings = {}
    for invitation in invitations:
        wording = claimed.get(invitation.id, default)
        if wording is not None:
            wordings[invitation.id] = wording
    return wordings


def send_due_reminders(
    *,
    now: datetime,
    sender: str = DEFAULT_SENDER,
    checkpoint: Callable[[], object] | None = None,
) -> int:
    """Queue every reminder that is due (LimeSurvey's rules), in its campaign's words; return how many.

    The one reminder path: the worker's schedule and `flask surveys remind` both call it. An invitation
    whose campaign is paused, draft or finished (or whose enrollment ended) is not reminded; one without
    a campaign is, in the default words signed by `sender`. With `checkpoint` (a commit), a few thousand
    invitations at a time, checkpointed between.
    """
    default = ReminderWording(DEFAULT_TEMPLATES, sender)
    count = 0
    for batch in due_reminder_batches(now=now, batch_size=2_000 if checkpoint else None):
        wordings = reminder_wordings(batch, default=default)
        for invitation in batch:
            wording = wordings.get(invitation.id)
            if wording is None:
                continue
            queue_invitation_message(
                invitation,
                wording.templates,
                kind="reminder",
                now=now,
                sender=wording.sender,
                from_address=wording.from_address,
                reply_to=wording.reply_to,
            )
            count += 1
        if checkpoint is not None:
            checkpoint()
    return count


def close_stale_responses(
    *,
    now: datetime,
    after_days: int = 14,
    checkpoint: Callable[[], object] | None = None,
    chunk_size: int = 2_000,
) -> int:
    """Close responses left incomplete for `after_days`; they stay as partial data.

    With `checkpoint` (the worker passes its commit), `chunk_size` rows at a time, committed between:
    on SQLite a long write would hold the only write lock that survey pages need.
    """
    cutoff = now - timedelta(days=after_days)
    stale = (Response.status == ResponseStatus.IN_PROGRESS, Response.updated_at <= cutoff)
    closed = 0
    while True:
        statement = update(Response).values(status=ResponseStatus.CLOSED, closed_at=now)
        if checkpoint is None:
            statement = statement.where(*stale)
        else:
            statement = statement.where(
                Response.id.in_(select(Response.id).where(*stale).order_by(Response.id).limit(chunk_size))
            )
        count = db.session.execute(statement, execution_options={"synchronize_session": False}).rowcount
        closed += count
        if checkpoint is None or count < chunk_size:
            break
        checkpoint()
    db.session.expire_all()
    return closed
