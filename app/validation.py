"""Normalise values at the edge: phones to E.164, emails validated and lower-cased, currencies checked."""

from __future__ import annotations

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


def normalize_email(raw: str, *, field: str = "email") -> str:
    """Return the address with its domain lower-cased, or raise ValidationError."""
    text = raw.strip()
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


def region_of_phone(e164: str) -> str | None:
    """The ISO country of an E.164 number (used to guess a contact's timezone and country)."""
    return phonenumbers.region_code_for_number(phonenumbers.parse(e164))
