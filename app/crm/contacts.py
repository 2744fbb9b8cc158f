"""A contact's whereabouts as a person sets them (time zone, address), and the language we write in."""

from __future__ import annotations

from datetime import datetime

from app.audit.service import record_event
from app.auth.models import User
from app.crm.models import Contact
from app.crm.signals import contacts_relocated
from app.errors import Conflict, ValidationError
from app.i18n.languages import normalise_language, resolve_language
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


def contact_language(contact: Contact) -> str:
    """The language to write to the contact in: their own, else their country's default, else ours."""
    account_country = contact.account.country if contact.account else None
    return resolve_language(contact.language, contact.country, account_country)


def set_language(contact: Contact, language: str, *, actor: User | None, now: datetime) -> bool:
    """Set the contact's language ("" goes back to the country's or organisation's default); audited."""
    if contact.erased_at is not None:
        raise Conflict("This contact was erased: nothing personal is kept about them.")
    wanted = normalise_language(language) if language.strip() else None
    if language.strip() and wanted is None:
        raise ValidationError(f"“{language}” is not a language we write to customers in.", field="language")
    if wanted == contact.language:
        return False
    record_event(
        "contact.language_set",
        "contact",
        contact.id,
        actor=actor,
        details={"language": [contact.language, wanted]},
        now=now,
    )
    contact.language = wanted
    return True
