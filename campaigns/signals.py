"""Listen to core signals: an opt-out ends the contact's active enrollments at once."""

from __future__ import annotations

from datetime import datetime

from app.crm.models import Channel, Contact
from app.db_types import utcnow
from app.messaging.signals import contact_opted_out
from campaigns.enrollment import mark_opted_out


def _on_contact_opted_out(
    contact: Contact, *, channel: Channel | None = None, now: datetime | None = None, **_: object
) -> None:
    # Runs inside the transaction that recorded the opt-out: it commits both, or neither.
    mark_opted_out(contact.id, channel=channel, now=now or utcnow())


def connect_signals() -> None:
    contact_opted_out.connect(_on_contact_opted_out)
