"""Turn the text of a cell into a clean value, or raise ValidationError with a sentence a person reads."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from app.errors import ValidationError
from app.validation import CURRENCIES

SYMBOLS = {"$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "CHF": "CHF", "kr": "SEK"}
_CURRENCY_TOKEN = re.compile(r"(US\$|[$€£¥]|\b[A-Za-z]{3}\b)")
_NUMBER = re.compile(r"^-?[\d.,' ]*\d[\d.,' ]*$")
TRUE = {"true", "1", "yes", "y", "x", "won", "closed"}
FALSE = {"false", "0", "no", "n", ""}


# The common shapes ('$12,500.00', '12500', '1,250,000', '99.5') read without the general parser: no
# leading zero before a comma (so '0,500' still takes the careful path), at most two decimals.
_PLAIN_AMOUNT = re.compile(r"(\$?)([1-9]\d{0,2}(?:,\d{3})+|\d+)(\.\d{1,2})?\Z")
_CENT = Decimal("0.01")
_LIMIT = Decimal("1e16")
# A number cell longer than this is not a number a CRM wrote: refusing it up front keeps every parse
# quick (Decimal of a 100,000-digit string, or int() of '1e1000000', costs seconds to minutes of CPU).
MAX_NUMBER_CHARS = 40
_WHOLE = re.compile(r"-?\d+(?:\.0*)?\Z")
MAX_INT = 2**31 - 1  # an INTEGER column on PostgreSQL


# The column a CRM file carries Winback's id in ("WB-42"), written by the pipeline's export: a later
# import links the CRM's new deal to its requalification by it.
WINBACK_ID = "Winback ID"
_WINBACK_ID = re.compile(r"WB-([0-9]{1,18})", re.ASCII)  # ASCII digits: '²' passes str.isdigit()


def winback_number(text: str | None) -> int | None:
    """The requalification number of a Winback ID ('WB-42' -> 42), or None when it is not one."""
    found = _WINBACK_ID.fullmatch((text or "").strip().upper())
    return int(found[1]) if found else None


def parse_winback_id(text: str, *, column: str = WINBACK_ID) -> int:
    """A Winback ID cell's number; anything else than WB- and digits is a row error naming the column."""
    number = winback_number(text)
    if number is None:
        raise ValidationError(
            f"{column} '{text[:40]}' is not a Winback ID (WB- and digits, e.g. WB-42)", field=column
        )
    return number


def parse_amount(text: str, *, column: str = "Amount") -> tuple[Decimal | None, str | None]:
    """'$12,500.00', '12.500,00 €', 'USD 12500' -> (Decimal, currency or None)."""
    raw = text.strip()
    if not raw:
        return None, None
    if len(raw) > MAX_NUMBER_CHARS:
        raise ValidationError(f"{column} '{raw[:20]}…' is too long to be an amount", field=column)
    plain = _PLAIN_AMOUNT.match(raw)
    if plain:
        value = Decimal(plain[2].replace(",", "") + (plain[3] or ""))
        if value < _LIMIT:
            return value.quantize(_CENT), "USD" if plain[1] else None
    return _parse_amount(raw, column)


def _parse_amount(raw: str, column: str) -> tuple[Decimal | None, str | None]:
    """The general reader: a currency token anywhere, either decimal mark, grouping by , . ' or space."""
    currency = None
    rest = raw
    for match in _CURRENCY_TOKEN.finditer(raw):
        token = match.group(0)
        code = SYMBOLS.get(token) or (token.upper() if token.upper() in CURRENCIES else None)
        if code:
            currency = code
            rest = rest.replace(token, "", 1)
            break
    rest = rest.replace("\u00a0", " ").strip()
    negative = rest.startswith("(") and rest.endswith(")")
    rest = rest.strip("()").strip()
    if not _NUMBER.match(rest):
        raise ValidationError(f"{column} '{raw}' is not a number", field=column)
    rest = rest.replace(" ", "").replace("'", "")
    number = _normalise_separators(rest)
    try:
        value = Decimal(number)
    except InvalidOperation:
        raise ValidationError(f"{column} '{raw}' is not a number", field=column) from None
    if negative:
        value = -value
    if abs(value) >= Decimal("1e16"):
        raise ValidationError(f"{column} '{raw}' is too large", field=column)
    return value.quantize(Decimal("0.01")), currency


def _normalise_separators(number: str) -> str:
    """Decide which of ',' and '.' is the decimal mark: the last one, unless it groups thousands."""
    commas, dots = number.count(","), number.count(".")
    if commas and dots:
        decimal_mark = "," if number.rfind(",") > number.rfind(".") else "."
        thousands = "." if decimal_mark == "," else ","
        return number.replace(thousands, "").replace(decimal_mark, ".")
    mark = "," if commas else "." if dots else None
    if mark is None:
        return number
    if number.count(mark) > 1:
        return number.replace(mark, "")  # 1,250,000 or 1.250.000
    whole, fraction = number.split(mark)
    if len(fraction) == 3 and whole not in ("", "0", "-0"):
        return whole + fraction  # 12,500 or 12.500: thousands
    return f"{whole}.{fraction}"


_ISO = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"
)
_PARTS = re.compile(
    r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?(?:\s?[AP]M)?)?$", re.I
)


def parse_date(text: str, *, day_first: bool, column: str = "Close Date") -> date | None:
    """ISO dates always; 11/23/2026 or 23.11.2026 by the import's day-first setting, never guessed."""
    raw = text.strip()
    if not raw:
        return None
    if match := _ISO.match(raw):
        year, month, day = (int(g) for g in match.groups())
    elif match := _PARTS.match(raw):
        first, second, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
        day, month = (first, second) if day_first else (second, first)
        if year < 100:
            year += 2000
    else:
        raise ValidationError(f"{column} '{raw}' is not a date", field=column)
    try:
        return date(year, month, day)
    except ValueError:
        order = "day first (DD/MM/YYYY)" if day_first else "month first (MM/DD/YYYY)"
        raise ValidationError(
            f"{column} '{raw}' is not a valid date when read {order}; check the import's date setting",
            field=column,
        ) from None


def parse_bool(text: str, *, column: str) -> bool:
    value = text.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ValidationError(f"{column} '{text.strip()}' is neither yes nor no", field=column)


def parse_int(text: str, *, column: str) -> int | None:
    """'1,200' -> 1200. Digits only (no exponent, no 'Infinity'), and small enough for an INTEGER column."""
    raw = text.strip().replace(",", "").replace(" ", "")
    if not raw:
        return None
    shown = text.strip() if len(text.strip()) <= 20 else text.strip()[:20] + "…"
    if len(raw) > MAX_NUMBER_CHARS or not _WHOLE.match(raw):
        raise ValidationError(f"{column} '{shown}' is not a whole number", field=column)
    value = int(raw.split(".")[0])
    if abs(value) > MAX_INT:
        raise ValidationError(f"{column} '{shown}' is too large", field=column)
    return value
