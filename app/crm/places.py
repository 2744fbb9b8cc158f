"""Where a contact may be: the time zones its phone number, its own time zone and its address point to.

Every zone found is a candidate, and calling hours must hold in all of them (the "safe time" dialers use):
a New York mobile whose owner's address is in Hawaii is called only when it is a decent hour in both.

- The phone: `phonenumbers` gives one zone, several, or none. A toll-free, premium-rate, shared-cost,
  personal or UAN number says nothing about where its owner is (a US toll-free number maps to all 42
  zones of the North American plan, which never share a calling hour): it gives no zone.
- The contact's own time zone (set by a person, an import column or the push API).
- The contact's address: a US state or Canadian province gives its zones; a country alone gives its zones
  unless the phone already places the person inside that country (the phone is then more precise).
- The account's country stands in for the address only when nothing else places the contact and the
  phone is a real number that carries no place (toll-free...): a number that is not valid at all stays
  unknown, so a person looks at it.

No zone at all means "not dialable until a person sets one" (the call queue's rule).
"""

from __future__ import annotations

import zoneinfo
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import PhoneNumberType
from phonenumbers import timezone as phone_timezone

from app.crm.models import Contact

UNKNOWN_ZONE = "Etc/Unknown"
PLACELESS_NUMBER_TYPES = frozenset(
    {
        PhoneNumberType.TOLL_FREE,
        PhoneNumberType.PREMIUM_RATE,
        PhoneNumberType.SHARED_COST,
        PhoneNumberType.PERSONAL_NUMBER,
        PhoneNumberType.UAN,
    }
)

# code|name|zones. States that span two zones list both: the calling hours hold in each.
_REGIONS = """
US AL|Alabama|America/Chicago
US AK|Alaska|America/Anchorage America/Adak
US AZ|Arizona|America/Phoenix
US AR|Arkansas|America/Chicago
US CA|California|America/Los_Angeles
US CO|Colorado|America/Denver
US CT|Connecticut|America/New_York
US DE|Delaware|America/New_York
US DC|District of Columbia|America/New_York
US FL|Florida|America/New_York America/Chicago
US GA|Georgia|America/New_York
US HI|Hawaii|Pacific/Honolulu
US ID|Idaho|America/Boise America/Los_Angeles
US IL|Illinois|America/Chicago
US IN|Indiana|America/Indiana/Indianapolis America/Chicago
US IA|Iowa|America/Chicago
US KS|Kansas|America/Chicago America/Denver
US KY|Kentucky|America/New_York America/Chicago
US LA|Louisiana|America/Chicago
US ME|Maine|America/New_York
US MD|Maryland|America/New_York
US MA|Massachusetts|America/New_York
US MI|Michigan|America/Detroit America/Menominee
US MN|Minnesota|America/Chicago
US MS|Mississippi|America/Chicago
US MO|Missouri|America/Chicago
US MT|Montana|America/Denver
US NE|Nebraska|America/Chicago America/Denver
US NV|Nevada|America/Los_Angeles
US NH|New Hampshire|America/New_York
US NJ|New Jersey|America/New_York
US NM|New Mexico|America/Denver
US NY|New York|America/New_York
US NC|North Carolina|America/New_York
US ND|North Dakota|America/Chicago America/Denver
US OH|Ohio|America/New_York
US OK|Oklahoma|America/Chicago
US OR|Oregon|America/Los_Angeles America/Boise
US PA|Pennsylvania|America/New_York
US RI|Rhode Island|America/New_York
US SC|South Carolina|America/New_York
US SD|South Dakota|America/Chicago America/Denver
US TN|Tennessee|America/Chicago America/New_York
US TX|Texas|America/Chicago America/Denver
US UT|Utah|America/Denver
US VT|Vermont|America/New_York
US VA|Virginia|America/New_York
US WA|Washington|America/Los_Angeles
US WV|West Virginia|America/New_York
US WI|Wisconsin|America/Chicago
US WY|Wyoming|America/Denver
US PR|Puerto Rico|America/Puerto_Rico
CA AB|Alberta|America/Edmonton
CA BC|British Columbia|America/Vancouver
CA MB|Manitoba|America/Winnipeg
CA NB|New Brunswick|America/Moncton
CA NL|Newfoundland and Labrador|America/St_Johns
CA NS|Nova Scotia|America/Halifax
CA NT|Northwest Territories|America/Yellowknife
CA NU|Nunavut|America/Iqaluit America/Rankin_Inlet America/Cambridge_Bay
CA ON|Ontario|America/Toronto
CA PE|Prince Edward Island|America/Halifax
CA QC|Quebec|America/Toronto
CA SK|Saskatchewan|America/Regina
CA YT|Yukon|America/Whitehorse
"""


def _region_table() -> dict[tuple[str, str], tuple[str, ...]]:
    table: dict[tuple[str, str], tuple[str, ...]] = {}
    for line in _REGIONS.strip().splitlines():
        head, name, zones = line.split("|")
        country, code = head.split()
        table[(country, code)] = table[(country, name.upper())] = tuple(zones.split())
    return table


REGION_ZONES = _region_table()


def _region_codes() -> dict[tuple[str, str], str]:
    codes: dict[tuple[str, str], str] = {}
    for line in _REGIONS.strip().splitlines():
        head, name, _ = line.split("|")
        country, code = head.split()
        codes[(country, code)] = codes[(country, name.upper())] = code
    return codes


REGION_CODES = _region_codes()


def region_code(state: str | None, country: str = "US") -> str | None:
    """A US state's (or Canadian province's) two-letter code from its code or name; None if unknown."""
    return REGION_CODES.get((country, (state or "").strip().upper())) if state else None


@lru_cache(maxsize=1024)
def zone_info(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@lru_cache(maxsize=1)
def _country_table() -> dict[str, tuple[str, ...]]:
    """Country code -> its zones, from the zone.tab of the time zone database zoneinfo reads."""
    for folder in zoneinfo.TZPATH:
        path = Path(folder) / "zone.tab"
        if path.is_file():
            table: dict[str, list[str]] = {}
            for line in path.read_text(encoding="utf-8").splitlines():
                if line and not line.startswith("#"):
                    country, _, zone = line.split("\t")[:3]
                    table.setdefault(country, []).append(zone)
            return {country: tuple(sorted(zones)) for country, zones in table.items()}
    return {}  # no zone.tab: a country alone places nobody, and such contacts wait for a person


def country_zones(country: str | None) -> tuple[str, ...]:
    return _country_table().get((country or "").upper(), ())


def region_zones(state: str | None, country: str | None) -> tuple[str, ...]:
    """The zones of a US state or Canadian province, by code or name (the country may be left out)."""
    if not state:
        return ()
    key = state.strip().upper()
    countries = [country.upper()] if country else ["US", "CA"]
    for each in countries:
        if (each, key) in REGION_ZONES:
            return REGION_ZONES[(each, key)]
    return ()


@lru_cache(maxsize=4096)
def phone_zones(phone: str) -> tuple[str, ...]:
    """The zones the number's location gives; none for a number that has no location (toll-free...)."""
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return ()
    if phonenumbers.number_type(parsed) in PLACELESS_NUMBER_TYPES:
        return ()
    return tuple(zone for zone in phone_timezone.time_zones_for_number(parsed) if zone != UNKNOWN_ZONE)


@lru_cache(maxsize=4096)
def placeless(phone: str) -> bool:
    """A valid number that says nothing of where its owner is (toll-free, premium-rate, ...)."""
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(parsed) and not phone_zones(phone)


def address_zones(state: str | None, country: str | None, *, phone: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The zones an address adds: its state's, or its country's unless the phone is already inside it."""
    zones = region_zones(state, country)
    if zones or not country:
        return zones
    zones = country_zones(country)
    if phone and set(phone) <= set(zones):
        return ()
    return zones


def candidate_zones(
    phone: str | None,
    timezone: str | None,
    *,
    state: str | None = None,
    country: str | None = None,
    account_country: str | None = None,
) -> list[str]:
    """Every zone the contact may be in (see the module's rules); empty when none is known."""
    from_phone = phone_zones(phone) if phone else ()
    zones = set(from_phone) | set(address_zones(state, country, phone=from_phone))
    if timezone and zone_info(timezone) is not None:
        zones.add(timezone)
    if not zones and account_country and phone and placeless(phone):
        zones.update(country_zones(account_country))
    return sorted(zones)


def contact_zones(contact: Contact) -> list[str]:
    """Every zone this contact may be in, by the rules above."""
    return candidate_zones(
        contact.phone,
        contact.timezone,
        state=contact.state,
        country=contact.country,
        account_country=contact.account.country if contact.account is not None else None,
    )
