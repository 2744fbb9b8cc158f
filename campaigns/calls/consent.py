"""Recording consent: every recorded call is announced; where every party must consent, or where the
contact's state is unknown, nothing is recorded until the announcement has played.

The contact's states come from their address (a US state) and their phone number's area code (the
location `phonenumbers` gives). A contact who may be in any all-party state is treated as in one.
"""

from __future__ import annotations

import enum
from functools import lru_cache

import phonenumbers

from app.crm.models import Contact
from app.crm.places import region_code

# Two-party (all-party) consent states for recording a call.
ALL_PARTY_STATES = frozenset(["CA", "CT", "FL", "IL", "MD", "MA", "MI", "MT", "NV", "NH", "PA", "WA"])


class RecordingPlan(enum.StrEnum):
    NONE = "none"  # not recorded
    FROM_ANSWER = "from_answer"  # one-party state: recorded from the answer, the notice played first
    AFTER_NOTICE = "after_notice"  # all-party or unknown state: recording starts once the notice played


@lru_cache(maxsize=4096)
def phone_state(phone: str | None) -> str | None:
    """The US state a number's area code is in ("San Francisco, CA" or "Florida"), or None."""
    if not phone:
        return None
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.region_code_for_number(parsed) != "US":
        return None
    # Imported here, not at the top: the geocoder's place names take about 100 MB of memory, which only
    # a process deciding a recorded call needs (not the imports, the CRM sync, the outbox or surveys).
    from phonenumbers import geocoder

    place = geocoder.description_for_number(parsed, "en")
    return region_code(place.rsplit(",", 1)[-1]) or region_code(place)


def contact_states(contact: Contact, phone: str | None = None) -> set[str]:
    """Every US state the contact may be in: their address's and their number's."""
    states = {phone_state(phone if phone is not None else contact.phone)}
    if contact.state and (contact.country or "US").upper() == "US":
        states.add(region_code(contact.state))
    return {state for state in states if state}


def all_party_consent(contact: Contact, phone: str | None = None) -> bool:
    """True when every party must consent before anything is recorded: an all-party state, or unknown."""
    states = contact_states(contact, phone)
    return not states or bool(states & ALL_PARTY_STATES)


def recording_plan(contact: Contact, phone: str, *, recorded: bool) -> RecordingPlan:
    if not recorded:
        return RecordingPlan.NONE
    return RecordingPlan.AFTER_NOTICE if all_party_consent(contact, phone) else RecordingPlan.FROM_ANSWER
