"""Write messages to the outbox; the worker delivers them after commit. Callers commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.crm.models import Channel, Contact
from app.extensions import db
from app.messaging.models import MessageStatus, OutboundMessage


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
        subject=subject,
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


def cancel_queued_messages(contact_id: int, *, reason: str, channel: Channel | None = None) -> int:
    """Cancel every message still queued for a contact (all channels unless one is named)."""
    statement = (
        update(OutboundMessage)
        .where(OutboundMessage.contact_id == contact_id, OutboundMessage.status == MessageStatus.QUEUED)
        .values(status=MessageStatus.CANCELLED, cancelled_reason=reason)
    )
    if channel is not None:
        statement = statement.where(OutboundMessage.channel == channel)
    return db.session.execute(statement, execution_options={"synchronize_session": False}).rowcount
