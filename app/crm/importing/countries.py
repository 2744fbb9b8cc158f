"""Country names and codes as CRM exports spell them."""

from __future__ import annotations

from app.crm.importing.formats import fold
from app.errors import ValidationError
from app.i18n.languages import normalise_language

COUNTRIES = {
    "united states": "US",
    "usa": "US",
    "us": "US",
    "united states of america": "US",
    "canada": "CA",
    "united kingdom": "GB",
    "uk": "GB",
    "great britain": "GB",
    "germany": "DE",
    "deutschland": "DE",
    "france": "FR",
    "netherlands": "NL",
    "japan": "JP",
    "australia": "AU",
    "china": "CN",
    "philipines": "PH",
    "philippines": "PH",
    "norway": "NO",
    "kenya": "KE",
    "italy": "IT",
    "spain": "ES",
    "belgium": "BE",
    "poland": "PL",
    "brazil": "BR",
    "korea": "KR",
    "panama": "PA",
    "jordan": "JO",
    "romania": "RO",
    "switzerland": "CH",
    "austria": "AT",
    "sweden": "SE",
    "denmark": "DK",
    "ireland": "IE",
    "india": "IN",
    "mexico": "MX",
    "slovenia": "SI",
}


def country_code(text: str) -> str | None:
    value = text.strip()
    if len(value) == 2 and value.isalpha():
        return value.upper()
    return COUNTRIES.get(fold(value))


def contact_language(text: str, field: str) -> str:
    """A contact's language as its code ("German", "de-AT" → "de"); ValidationError for one we lack."""
    code = normalise_language(text)
    if code is None:
        raise ValidationError(
            f"'{text[:64]}' is not a language Winback writes to customers in (en, de, fr, es, nl)",
            field=field,
        )
    return code


def contact_country(text: str, field: str) -> str:
    """A contact's country as its code; raise ValidationError when the text names none this knows."""
    code = country_code(text)
    if code is None:
        raise ValidationError(
            f"'{text[:64]}' is not a country this import knows: use its two-letter code", field=field
        )
    return code
