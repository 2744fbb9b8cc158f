"""Convert amounts into the reporting currency with the rate of the deal's close month.

An amount without a rate is never mixed into a total: it is counted and shown apart, "not converted".
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import Date, and_, case, func, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.expression import ColumnElement, FunctionElement, Select

from app.errors import ValidationError
from app.extensions import db
from app.money.models import ExchangeRate, ReportingSettings

DEFAULT_CURRENCY = "USD"
_CURRENCY = re.compile(r"[A-Z]{3}")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
MAX_IMPORT_ROWS = 10_000


def reporting_currency() -> str:
    settings = db.session.get(ReportingSettings, 1)
    return settings.currency if settings else DEFAULT_CURRENCY


def parse_currency(raw: str, *, field_name: str = "currency") -> str:
    code = (raw or "").strip().upper()
    if not _CURRENCY.fullmatch(code):
        raise ValidationError(
            "Enter a currency as its three-letter ISO code, for example EUR.", field=field_name
        )
    return code


def parse_month(raw: str) -> date:
    """ "2026-10" (or a full date in that month) → date(2026, 10, 1)."""
    text = (raw or "").strip()
    match = _MONTH.match(text)
    if match is None or len(text) not in (7, 10):
        raise ValidationError("Enter the month as YYYY-MM, for example 2026-10.", field="month")
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12 or year < 1900:
        raise ValidationError("Enter the month as YYYY-MM, for example 2026-10.", field="month")
    return date(year, month, 1)


def parse_rate(raw: str) -> Decimal:
    try:
        rate = Decimal((raw or "").strip().replace(",", "."))
    except InvalidOperation:
        raise ValidationError("Enter the rate as a number, for example 1.0825.", field="rate") from None
    if not rate.is_finite() or rate <= 0 or rate >= Decimal("1e10"):
        raise ValidationError("The rate must be a positive number.", field="rate")
    return rate


def set_reporting_currency(raw: str, *, now: datetime) -> ReportingSettings:
    currency = parse_currency(raw)
    settings = db.session.get(ReportingSettings, 1)
    if settings is None:
        settings = ReportingSettings(id=1)
        db.session.add(settings)
    settings.currency = currency
    settings.updated_at = now
    db.session.flush()
    return settings


def set_rate(*, month: date, currency: str, rate: Decimal, now: datetime) -> ExchangeRate:
    """Add or replace the rate of one currency for one month, into the reporting currency."""
    quote = reporting_currency()
    if currency == quote:
        raise ValidationError(f"{quote} is the reporting currency: its rate is always 1.", field="currency")
    existing = db.session.scalar(
        select(ExchangeRate).where(
            ExchangeRate.month == month,
            ExchangeRate.currency == currency,
            ExchangeRate.quote_currency == quote,
        )
    )
    if existing is None:
        existing = ExchangeRate(month=month, currency=currency, quote_currency=quote, rate=rate)
        db.session.add(existing)
    existing.rate = rate
    existing.updated_at = now
    db.session.flush()
    return existing


def delete_rate(rate: ExchangeRate) -> None:
    db.session.delete(rate)
    db.session.flush()


def rates_in_use() -> list[ExchangeRate]:
    """The rates into the current reporting currency, newest month first."""
    return list(
        db.session.scalars(
            select(ExchangeRate)
            .where(ExchangeRate.quote_currency == reporting_currency())
            .order_by(ExchangeRate.month.desc(), ExchangeRate.currency)
        )
    )


@dataclass
class RateImport:
    saved: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, message)


def import_rates(text: str, *, now: datetime) -> RateImport:
    """Read a CSV with the columns month, currency, rate; good rows are saved, bad rows reported by line."""
    result = RateImport()
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = [cell.strip().lower() for cell in next(reader, [])]
    missing = [name for name in ("month", "currency", "rate") if name not in header]
    if missing:
        raise ValidationError(
            "The file needs a header row with the columns month, currency and rate "
            f"(missing: {', '.join(missing)}).",
            field="file",
        )
    where = {name: header.index(name) for name in ("month", "currency", "rate")}
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if line - 1 > MAX_IMPORT_ROWS:
            result.errors.append((line, f"Only {MAX_IMPORT_ROWS} rates are read from one file."))
            break
        try:
            cells = {name: row[index] if index < len(row) else "" for name, index in where.items()}
            set_rate(
                month=parse_month(cells["month"]),
                currency=parse_currency(cells["currency"]),
                rate=parse_rate(cells["rate"]),
                now=now,
            )
        except ValidationError as error:
            result.errors.append((line, error.message))
        else:
            result.saved += 1
    return result


class Rates:
    """The rates into one reporting currency, loaded once for a report."""

    def __init__(self, quote: str, table: dict[tuple[date, str], Decimal]) -> None:
        self.quote = quote
        self._table = table

    @classmethod
    def load(cls) -> Rates:
        quote = reporting_currency()
        rows = db.session.execute(
            select(ExchangeRate.month, ExchangeRate.currency, ExchangeRate.rate).where(
                ExchangeRate.quote_currency == quote
            )
        )
        return cls(quote, {(month, currency): Decimal(rate) for month, currency, rate in rows})

    def rate(self, currency: str | None, close_date: date | None) -> Decimal | None:
        currency = currency or DEFAULT_CURRENCY
        if currency == self.quote:
            return Decimal(1)
        if close_date is None:
            return None
        return self._table.get((close_date.replace(day=1), currency))

    def convert(
        self, amount: Decimal | None, currency: str | None, close_date: date | None
    ) -> Decimal | None:
        """The amount in the reporting currency, or None when there is no rate for its month."""
        if amount is None:
            return None
        rate = self.rate(currency, close_date)
        return None if rate is None else (Decimal(amount) * rate).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class NotConverted:
    currency: str
    amount: Decimal
    deals: int


@dataclass(frozen=True)
class MoneyTotal:
    currency: str
    total: Decimal
    converted_deals: int
    not_converted: list[NotConverted]

    @property
    def not_converted_deals(self) -> int:
        return sum(item.deals for item in self.not_converted)


def total_in_reporting_currency(
    rows: Iterable[tuple[str | None, date | None, Decimal | None, int]], rates: Rates | None = None
) -> MoneyTotal:
    """Sum (currency, close date, amount, deals) rows: converted ones into the total, the others apart."""
    rates = rates or Rates.load()
    total = Decimal(0)
    converted = 0
    apart: dict[str, list] = {}
    for currency, close_date, amount, deals in rows:
        if amount is None:
            continue
        value = rates.convert(amount, currency, close_date)
        if value is None:
            entry = apart.setdefault(currency or DEFAULT_CURRENCY, [Decimal(0), 0])
            entry[0] += Decimal(amount)
            entry[1] += deals
        else:
            total += value
            converted += deals
    not_converted = [NotConverted(code, amount, deals) for code, (amount, deals) in sorted(apart.items())]
    return MoneyTotal(rates.quote, total, converted, not_converted)


# --- The same conversion in SQL, so reports aggregate in the database instead of loading every deal. ---


class month_start(FunctionElement):  # noqa: N801 (reads as the SQL function it stands for)
    """The first day of a date's month, as the `exchange_rates.month` column stores it."""

    type = Date()
    name = "month_start"
    inherit_cache = True


@compiles(month_start)
def _month_start_postgresql(element, compiler, **kw) -> str:
    # Through TIMESTAMP (without time zone): the same month whatever the session's time zone, and about
    # twice as fast as the implicit cast to timestamptz over 100k deals.
    return f"CAST(date_trunc('month', CAST({compiler.process(element.clauses, **kw)} AS TIMESTAMP)) AS DATE)"


@compiles(month_start, "sqlite")
def _month_start_sqlite(element, compiler, **kw) -> str:
    # SQLite keeps dates as 'YYYY-MM-DD' text, so the month's first day compares equal to the stored month.
    return f"date({compiler.process(element.clauses, **kw)}, 'start of month')"


@dataclass(frozen=True)
class SqlConversion:
    """Outer-join `rate` on `onclause`; `amount` is then the converted amount, NULL where there is no rate."""

    rate: object  # an alias of ExchangeRate
    onclause: ColumnElement
    amount: ColumnElement
    currency: ColumnElement  # the deal's currency, never NULL
    unconverted: ColumnElement  # the deal's currency where its month has no rate for it, else NULL


def sql_conversion(amount, currency, close_date, *, quote: str | None = None) -> SqlConversion:
    """Convert `amount` in `currency` with the rate of `close_date`'s month, in SQL (see Rates.convert)."""
    quote = quote or reporting_currency()
    rate = aliased(ExchangeRate)
    deal_currency = func.coalesce(currency, DEFAULT_CURRENCY)
    onclause = and_(
        rate.currency == deal_currency,
        rate.quote_currency == quote,
        rate.month == month_start(close_date),
    )
    converted = case(
        (deal_currency == literal(quote), amount),
        else_=func.round(amount * rate.rate, 2),
    )
    unconverted = case((and_(deal_currency != literal(quote), rate.rate.is_(None)), deal_currency))
    return SqlConversion(
        rate=rate, onclause=onclause, amount=converted, currency=deal_currency, unconverted=unconverted
    )


def money_totals_by(deals: Select, *, keys: tuple[str, ...] = (), quote: str | None = None) -> dict:
    """Money totals of a select of deals (labelled columns amount, currency, close_date and `keys`) per
    combination of the keys' values, in one query: {(key values...): MoneyTotal}.

    The same answer as total_in_reporting_currency for each group: converted amounts summed, the others
    kept apart by currency.
    """
    quote = quote or reporting_currency()
    rows = deals.subquery()
    group = [rows.c[key] for key in keys]
    conversion = sql_conversion(rows.c.amount, rows.c.currency, rows.c.close_date, quote=quote)
    missing = conversion.amount.is_(None)
    grouped = db.session.execute(
        select(
            *group,
            missing.label("missing"),
            conversion.currency,
            func.count(),
            func.sum(rows.c.amount),
            func.sum(conversion.amount),
        )
        .select_from(rows)
        .outerjoin(conversion.rate, conversion.onclause)
        .where(rows.c.amount.is_not(None))
        .group_by(*group, missing, conversion.currency)
        .order_by(*group, conversion.currency)
    )
    totals: dict[tuple, MoneyTotal] = {}
    for row in grouped:
        key = tuple(row[: len(keys)])
        is_missing, currency, deals_count, amount, converted_amount = row[len(keys) :]
        entry = totals.setdefault(key, MoneyTotal(quote, Decimal(0), 0, []))
        if is_missing:
            entry.not_converted.append(NotConverted(currency, as_money(amount), deals_count))
        else:
            totals[key] = replace(
                entry,
                total=entry.total + as_money(converted_amount),
                converted_deals=entry.converted_deals + deals_count,
            )
    return totals


def money_total_of(deals: Select, *, quote: str | None = None) -> MoneyTotal:
    """The total of a select of deals (labelled columns amount, currency, close_date), one query."""
    quote = quote or reporting_currency()
    return money_totals_by(deals, quote=quote).get((), MoneyTotal(quote, Decimal(0), 0, []))


def as_money(value) -> Decimal:
    """A sum of money from the database: SQLite hands back floats, PostgreSQL Decimals."""
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))
