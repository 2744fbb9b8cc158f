"""Who must not be contacted, on which channel, and why. Checked at enrollment and again at send time."""

from __future__ import annotations

import enum

from sqlalchemy import or_, select

from app.crm.models import Channel, Contact
from app.extensions import db
from app.messaging.models import DoNotContactEntry, DoNotContactKind


class SuppressionReason(enum.StrEnum):
    ERASED = "erased"
    OPTED_OUT = "opted_out"
    DO_NOT_CONTACT = "do_not_contact"
    NO_ADDRESS = "no_address"


def _address(contact: Contact, channel: Channel) -> str | None:
    return contact.email if channel is Channel.EMAIL else contact.phone


def on_do_not_contact_list(contact: Contact) -> bool:
    """True when the contact's email, email domain or phone is on the list."""
    conditions = []
    if contact.email:
        domain = contact.email.rsplit("@", 1)[-1]
        conditions.append(
            (DoNotContactEntry.kind == DoNotContactKind.EMAIL) & (DoNotContactEntry.value == contact.email)
        )
        conditions.append(
            (DoNotContactEntry.kind == DoNotContactKind.DOMAIN) & (DoNotContactEntry.value == domain)
        )
    if contact.phone:
        conditions.append(
            (DoNotContactEntry.kind == DoNotContactKind.PHONE) & (DoNotContactEntry.value == contact.phone)
        )
    if not conditions:
        return False
    return db.session.scalar(select(DoNotContactEntry.id).where(or_(*conditions)).limit(1)) is not None


def contact_suppression_reason(contact: Contact, channel: Channel) -> SuppressionReason | None:
    """Why this contact may not be reached on this channel right now, or None when they may."""
    if contact.erased_at is not None:
        return SuppressionReason.ERASED
    if contact.opted_out(channel):
        return SuppressionReason.OPTED_OUT
    if not _address(contact, channel):
        return SuppressionReason.NO_ADDRESS
    if on_do_not_contact_list(contact):
        return SuppressionReason.DO_NOT_CONTACT
    return None
