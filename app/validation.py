"""Normalise values at the edge: phones to E.164, emails validated and lower-cased, currencies checked."""

from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache

import email_validator
import phonenumbers
from email_validator import EmailNotValidError, validate_email

from app.errors import ValidationError

# ISO 4217 codes Winback accepts; a short list keeps typos out without a dependency.
CURRENCIES = frozenset(
    {
        "USD",
        "EUR",
        "GBP",
        "CHF",
        "CAD",
        "AUD",
        "NZD",
        "JPY",
        "CNY",
        "INR",
        "SEK",
        "NOK",
        "DKK",
        "PLN",
        "CZK",
        "HUF",
        "BRL",
        "MXN",
        "ZAR",
        "SGD",
        "HKD",
        "KRW",
        "AED",
    }
)


def normalize_phone(raw: str, default_region: str = "US", *, field: str = "phone") -> str:
    """Return the number in E.164, or raise ValidationError with a sentence a person understands."""
    text = raw.strip()
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        raise ValidationError(f"Phone '{text}' is not a phone number", field=field) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(f"Phone '{text}' is not a valid phone number", field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# A strict subset of what email_validator accepts, checked by one regular expression: a plain-ASCII
# dot-atom local part (RFC 5322 atext, single dots, <= 64 characters) and a domain of LDH labels
# (1-63 characters, no leading or trailing hyphen) ending in a letters-only TLD. An address of that
# shape needs no Unicode or IDNA work, and email_validator would return it unchanged apart from the
# domain's case; anything else (Unicode, quotes, "--" labels, special-use names, ...) goes through
# email_validator. tests/test_validation.py proves both agree on a corpus of ordinary and tricky cases.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN_EMAIL = re.compile(
    rf"(?=[^@]{{1,64}}@){_ATEXT}+(?:\.{_ATEXT}+)*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}",
    re.ASCII,
)
_SPECIAL_USE = tuple(email_validator.SPECIAL_USE_DOMAIN_NAMES)


def _plain_email(text: str) -> str | None:
    """The normalised address when it is plainly valid, else None (meaning: ask email_validator)."""
    if len(text) > 254 or not _PLAIN_EMAIL.fullmatch(text):
        return None
    lowered = text.lower()
    domain = lowered.rpartition("@")[2]
    if "--" in domain or len(domain) > 253:
        return None  # R-LDH / Punycode labels, over-long domains: let email_validator judge
    if any(domain == d or domain.endswith("." + d) for d in _SPECIAL_USE):
        return None
    return lowered


def normalize_email(raw: str, *, field: str = "email") -> str:
    """Return the address lower-cased, or raise ValidationError."""
    text = raw.strip()
    plain = _plain_email(text)
    if plain is not None:
        return plain
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        raise ValidationError(f"Email '{text}' is not a valid email address", field=field) from None
    return result.normalized.lower()


def normalize_currency(raw: str, *, field: str = "currency") -> str:
    code = raw.strip().upper()
    if code not in CURRENCIES:
        raise ValidationError(f"Currency '{raw.strip()}' is not a known ISO 4217 code", field=field)
    return code


# C0 control characters (tab, line feed and carriage return excepted) and DEL: invisible, never typed
# on purpose, refused by PostgreSQL (NUL) and by XLSX files (the rest of C0).
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@lru_cache(maxsize=1)
def _time_zones() -> dict[str, str]:
    """Every IANA time zone name, by its lower-case spelling."""
    return {name.lower(): name for name in zoneinfo.available_timezones() if "/" in name or name == "UTC"}


def normalize_timezone(raw: str, *, field: str = "timezone") -> str:
    """An IANA time zone name ('america/new_york' is 'America/New_York'); raise ValidationError if unknown."""
    name = _time_zones().get(raw.strip().lower())
    if name is None:
        raise ValidationError(
            f"'{raw.strip()[:64]}' is not a time zone: give an IANA name such as America/New_York",
            field=field,
        )
    return name


def normalize_country(raw: str, *, field: str = "country") -> str:
    """A two-letter ISO 3166 country code, upper case; raise ValidationError for anything else."""
    code = raw.strip().upper()
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        raise ValidationError(
            f"'{raw.strip()[:64]}' is not a two-letter country code (like US or GB)", field=field
        )
    return code


def strip_control_characters(text: str) -> str:
    """The text without control characters other than tab and line breaks."""
    return _CONTROL_CHARACTERS.sub("", text)


# The largest id an INTEGER column holds on PostgreSQL (SQLite's 64 bits hold more): a larger number
# names nothing, and the database driver would fail on it.
MAX_DB_INT = 2**31 - 1


def parse_id(raw: str | None) -> int | None:
    """An id or count typed in a URL or a form: ASCII digits up to MAX_DB_INT, else None.

    `str.isdigit` accepts "²" and "٣", which `int` then refuses or reads as another number.
    """
    text = (raw or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    value = int(text)
    return value if value <= MAX_DB_INT else None


def parse_ids(values: list[str]) -> list[int]:
    """The ids among these values (see `parse_id`); the others are left out."""
    return [value for value in map(parse_id, values) if value is not None]


def integer_problem(raw: str) -> str | None:
    """Why a number-looking parameter cannot be a database integer ("²", 2147483648), or None.

    Values that do not look like numbers at all are left to the page, which says what it expected.
    """
    text = raw.strip()
    digits = text[1:] if text[:1] in "+-" else text
    if not digits or not digits.isdigit():
        return None
    if not digits.isascii():
        return "must be written with the digits 0-9"
    if len(digits) > 10 or int(digits) > MAX_DB_INT:
        return "is out of range"
    return None
