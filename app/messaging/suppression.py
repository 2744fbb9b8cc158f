"""Who must not be contacted, on which channel, and why. Checked at enrollment and again at send time.

The rules live in `_reason` only (and, for the call queue's claim, in `callable_by_phone` as SQL: the
same rules for the call channel, which a test holds to `_reason`). `contact_suppression_reason`
checks one contact (one query); `SuppressionCheck.load` fetches the do-not-contact entries that can
match a whole batch of contacts in one query, so the worker checks a batch of messages without a query
per message.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import and_, exists, func, literal_column, or_, select

from app.crm.models import Contact
from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.models import DoNotContactEntry, DoNotContactKind


class SuppressionReason(enum.StrEnum):
    ERASED = "erased"
    OPTED_OUT = "opted_out"
    DO_NOT_CONTACT = "do_not_contact"
    NO_ADDRESS = "no_address"


def _address(contact: Contact, channel: Channel) -> str | None:
    return contact.email if channel is Channel.EMAIL else contact.phone


def _domain(email: str) -> str:
    return email.rsplit("@", 1)[-1]


def _list_keys(contact: Contact) -> set[tuple[DoNotContactKind, str]]:
    """The (kind, value) entries of the do-not-contact list that would match this contact."""
    keys: set[tuple[DoNotContactKind, str]] = set()
    if contact.email:
        keys.add((DoNotContactKind.EMAIL, contact.email))
        keys.add((DoNotContactKind.DOMAIN, _domain(contact.email)))
    if contact.phone:
        keys.add((DoNotContactKind.PHONE, contact.phone))
    return keys


def _listed_keys(keys: set[tuple[DoNotContactKind, str]]) -> set[tuple[DoNotContactKind, str]]:
    """Which of these keys are on the list: one query, whatever the number of keys."""
    if not keys:
        return set()
    by_kind: dict[DoNotContactKind, set[str]] = {}
    for kind, value in keys:
        by_kind.setdefault(kind, set()).add(value)
    conditions = [
        (DoNotContactEntry.kind == kind) & DoNotContactEntry.value.in_(sorted(values))
        for kind, values in by_kind.items()
    ]
    rows = db.session.execute(
        select(DoNotContactEntry.kind, DoNotContactEntry.value).where(or_(*conditions))
    ).all()
    return {(kind, value) for kind, value in rows}


def _reason(
    contact: Contact, channel: Channel, listed: set[tuple[DoNotContactKind, str]]
) -> SuppressionReason | None:
    """The rules, in order; `listed` holds the matching do-not-contact entries already fetched."""
    if contact.erased_at is not None:
        return SuppressionReason.ERASED
    if contact.opted_out(channel):
        return SuppressionReason.OPTED_OUT
    if not _address(contact, channel):
        return SuppressionReason.NO_ADDRESS
    if _list_keys(contact) & listed:
        return SuppressionReason.DO_NOT_CONTACT
    return None


def contact_suppression_reason(contact: Contact, channel: Channel) -> SuppressionReason | None:
    """Why this contact may not be reached on this channel right now, or None when they may."""
    return SuppressionCheck.load([contact]).reason(contact, channel)


@dataclass
class SuppressionCheck:
    """The do-not-contact entries matching a batch of contacts, fetched once; the rules applied in memory.

    Opt-outs and erasure are read from the Contact objects at each call, so a contact opted out
    while the batch is being worked on (Twilio 21610) is suppressed for the rest of the batch.
    """

    listed: set[tuple[DoNotContactKind, str]]

    @classmethod
    def load(cls, contacts: Iterable[Contact]) -> SuppressionCheck:
        keys: set[tuple[DoNotContactKind, str]] = set()
        for contact in contacts:
            keys |= _list_keys(contact)
        return cls(_listed_keys(keys))

    def reason(self, contact: Contact, channel: Channel) -> SuppressionReason | None:
        return _reason(contact, channel, self.listed)


def _email_domain(email, *, postgresql: bool):
    """SQL for the part of a stored (normalised, one '@') email after the '@'."""
    if postgresql:
        return func.split_part(email, "@", 2)
    return func.substr(email, func.instr(email, "@") + 1)


def callable_by_phone(contact_id, *, postgresql: bool):
    """SQL, true when the contact may be called: `_reason` for the call channel, in the database.

    Not erased, not opted out of calls, with a phone, and neither that phone, nor the email, nor the
    email's domain on the do-not-contact list (one probe of its (kind, value) index per key).
    """
    contact = Contact.__table__.alias("callable_contact")
    listed = DoNotContactEntry.__table__.alias("listed")

    def key(kind: DoNotContactKind, value):
        return and_(listed.c.kind == literal_column(f"'{kind.value}'"), listed.c.value == value)

    return exists().where(
        contact.c.id == contact_id,
        contact.c.erased_at.is_(None),
        contact.c.call_opt_out_at.is_(None),
        contact.c.phone.is_not(None),
        ~exists().where(
            or_(
                key(DoNotContactKind.PHONE, contact.c.phone),
                key(DoNotContactKind.EMAIL, contact.c.email),
                key(DoNotContactKind.DOMAIN, _email_domain(contact.c.email, postgresql=postgresql)),
            )
        ),
    )
