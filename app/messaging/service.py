"""Write messages to the outbox; the worker delivers them after commit. Callers commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from app.audit.service import record_event
from app.crm.models import Contact
from app.extensions import db
from app.messaging.channels import CONTACT_CHANNELS, Channel
from app.messaging.models import DoNotContactEntry, DoNotContactKind, MessageStatus, OutboundMessage
from app.messaging.signals import contact_opted_out
from app.messaging.transports import header_safe


def enqueue_message(
    *,
    channel: Channel,
    recipient: str,
    body_text: str,
    idempotency_key: str,
    now: datetime,
    subject: str | None = None,
    body_html: str | None = None,
    contact: Contact | None = None,
    template: str | None = None,
    send_after: datetime | None = None,
    meta: dict[str, Any] | None = None,
) -> OutboundMessage:
    """Queue a message in the caller's transaction; the same idempotency key returns the first one."""
    existing = db.session.scalar(
        select(OutboundMessage).where(OutboundMessage.idempotency_key == idempotency_key)
    )
    if existing is not None:
        return existing
    message = OutboundMessage(
        idempotency_key=idempotency_key,
        channel=channel,
        recipient=recipient,
        contact_id=contact.id if contact else None,
        template=template,
        subject=header_safe(subject) if subject else subject,  # merge values lose their line breaks
        body_text=body_text,
        body_html=body_html,
        meta=meta or {},
        status=MessageStatus.QUEUED,
        next_attempt_at=send_after or now,
        created_at=now,
    )
    try:
        with db.session.begin_nested():  # a concurrent enqueue of the same key loses, not duplicates
            db.session.add(message)
    except IntegrityError:
        return db.session.scalars(
            select(OutboundMessage).where(OutboundMessage.idempotency_key == idempotency_key)
        ).one()
    return message


def queue_staff_email(
    *, recipient: str, subject: str, body_text: str, idempotency_key: str, template: str, now: datetime
) -> OutboundMessage:
    """An email to a Winback user (a password reset link): auth's staff mailer, registered by init_app."""
    return enqueue_message(
        channel=Channel.EMAIL,
        recipient=recipient,
        subject=subject,
        body_text=body_text,
        idempotency_key=idempotency_key,
        template=template,
        now=now,
    )


def cancel_queued_messages(contact_id: int, *, reason: str, channel: Channel | None = None) -> int:
    """Cancel every message still queued for a contact (all channels unless one is named)."""
    statement = OutboundMessage.bulk_transition(
        MessageStatus.QUEUED, MessageStatus.CANCELLED, cancelled_reason=reason
    ).where(OutboundMessage.contact_id == contact_id)
    if channel is not None:
        statement = statement.where(OutboundMessage.channel == channel)
    return db.session.execute(statement, execution_options={"synchronize_session": False}).rowcount


# ------------------------------------------------------------------------------------------- opt-out

_DNC_KIND_FOR_CHANNEL = {
    Channel.EMAIL: DoNotContactKind.EMAIL,
    Channel.SMS: DoNotContactKind.PHONE,
    Channel.CALL: DoNotContactKind.PHONE,
}


def add_do_not_contact(
    kind: DoNotContactKind,
    value: str,
    *,
    source: str,
    now: datetime,
    note: str | None = None,
    created_by_id: int | None = None,
) -> tuple[DoNotContactEntry, bool]:
    """Put a normalised value on the list; returns (entry, created). An existing entry is kept as it is."""
    existing = db.session.scalar(
        select(DoNotContactEntry).where(DoNotContactEntry.kind == kind, DoNotContactEntry.value == value)
    )
    if existing is not None:
        return existing, False
    entry = DoNotContactEntry(
        kind=kind, value=value, source=source[:120], note=note, created_at=now, created_by_id=created_by_id
    )
    try:
        with db.session.begin_nested():
            db.session.add(entry)
    except IntegrityError:  # added concurrently: the list holds it once, which is all that matters
        return db.session.scalars(
            select(DoNotContactEntry).where(DoNotContactEntry.kind == kind, DoNotContactEntry.value == value)
        ).one(), False
    return entry, True


def opt_out_contact(
    contact: Contact,
    channel: Channel | None,
    *,
    source: str,
    now: datetime,
    actor_id: int | None = None,
) -> int:
    """Opt a contact out of one channel (None: every channel), everywhere, at once.

    Sets the contact's opt-out fields, puts the address on the do-not-contact list with its source,
    cancels every queued message of the contact (the list entry suppresses them anyway) and sends
    `contact_opted_out` so campaigns cancel call tasks. Returns the number of messages cancelled.
    """
    channels = list(CONTACT_CHANNELS) if channel is None else [channel]
    for each in channels:
        if getattr(contact, f"{each.value}_opt_out_at") is None:
            setattr(contact, f"{each.value}_opt_out_at", now)
            setattr(contact, f"{each.value}_opt_out_source", source[:64])
    for each in channels:
        kind = _DNC_KIND_FOR_CHANNEL[each]
        value = contact.email if kind is DoNotContactKind.EMAIL else contact.phone
        if value:
            add_do_not_contact(kind, value, source=source, now=now, created_by_id=actor_id)
    db.session.flush()
    cancelled = cancel_queued_messages(contact.id, reason=f"opted out ({source})"[:120])
    record_event(
        "contact.opted_out",
        "contact",
        contact.id,
        actor_label=source,
        details={"channel": channel.value if channel else "all", "cancelled_messages": cancelled},
        now=now,
    )
    contact_opted_out.send(contact, channel=channel, source=source, now=now)
    return cancelled


def opt_in_contact_sms(contact: Contact, *, source: str, now: datetime) -> None:
    """START: texts allowed again. Only list entries an SMS opt-out added are removed, never an admin's."""
    contact.sms_opt_out_at = None
    contact.sms_opt_out_source = None
    if contact.phone:
        db.session.execute(
            delete(DoNotContactEntry).where(
                DoNotContactEntry.kind == DoNotContactKind.PHONE,
                DoNotContactEntry.value == contact.phone,
                DoNotContactEntry.source.like(f"{SMS_SOURCE_PREFIX}%"),
            )
        )
    record_event(
        "contact.opted_in", "contact", contact.id, actor_label=source, details={"channel": "sms"}, now=now
    )
    db.session.flush()


SMS_SOURCE_PREFIX = "sms reply"
