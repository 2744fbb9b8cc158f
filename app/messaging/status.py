"""Twilio status callbacks: move a sent SMS forward (delivered, failed); a repeat changes nothing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app.crm.models import Contact
from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.models import MessageStatus, OutboundMessage
from app.messaging.service import opt_out_contact
from app.messaging.transports import TWILIO_UNSUBSCRIBED

# Twilio's message statuses in the order they happen; a late callback never moves a message back.
_ORDER = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "read": 5,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
}
_FAILED = {"undelivered", "failed"}


def apply_sms_status(
    message_sid: str, status: str, *, error_code: str | None, now: datetime
) -> OutboundMessage | None:
    """Record what Twilio says happened to a message; returns it, or None for an unknown SID."""
    message = db.session.scalar(select(OutboundMessage).where(OutboundMessage.provider_id == message_sid))
    status = status.strip().lower()
    if message is None or status not in _ORDER:
        return None
    if message.provider_status == status or _ORDER[status] < _ORDER.get(message.provider_status or "", -1):
        return message  # a repeated or out-of-order callback: nothing changes
    message.provider_status = status
    if status in _FAILED and message.status is MessageStatus.SENT:
        message.mark_undelivered(
            f"Twilio reported the SMS {status}" + (f" (error {error_code})" if error_code else ""),
            code=f"twilio_{error_code}" if error_code else f"twilio_{status}",
        )
        if error_code == str(TWILIO_UNSUBSCRIBED) and message.contact_id:
            contact = db.session.get(Contact, message.contact_id)
            if contact is not None and not contact.opted_out(Channel.SMS):
                opt_out_contact(contact, Channel.SMS, source="twilio 21610 (recipient unsubscribed)", now=now)
    return message
