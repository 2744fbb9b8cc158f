"""A contact's whereabouts as a person sets them: time zone and address (state or province, country)."""

from __future__ import annotations

from datetime import datetime

from app.audit.service import record_event
from app.auth.models import User
from app.crm.models import Contact
from app.crm.signals import contacts_relocated
from app.errors import Conflict, ValidationError
from app.validation import normalize_country, normalize_timezone, strip_control_characters

WHEREABOUTS = ("timezone", "state", "country")


def set_whereabouts(
    contact: Contact,
    *,
    timezone: str,
    state: str,
    country: str,
    actor: User | None,
    now: datetime,
) -> dict[str, list]:
    """Set (or, when blank, clear) the contact's time zone and address; return what changed.

    Every value is checked before any is written: a bad one raises ValidationError naming its field.
    A change is audited and sent as `contacts_relocated`, so the contact's call tasks follow at once.
    """
    if contact.erased_at is not None:
        raise Conflict("This contact was erased: nothing personal is kept about them.")
    wanted = {
        "timezone": normalize_timezone(timezone, field="timezone") if timezone.strip() else None,
        "state": strip_control_characters(state).strip() or None,
        "country": normalize_country(country, field="country") if country.strip() else None,
    }
    if wanted["state"] is not None and len(wanted["state"]) > 64:
        raise ValidationError("The state or province is longer than 64 characters", field="state")
    changes = {
        name: [getattr(contact, name), value]
        for name, value in wanted.items()
        if getattr(contact, name) != value
    }
    if not changes:
        return changes
    for name, (_, value) in changes.items():
        setattr(contact, name, value)
    record_event("contact.whereabouts_set", "contact", contact.id, actor=actor, details=changes, now=now)
    contacts_relocated.send(None, contact_ids=[contact.id], now=now)
    return changes
