"""SQL building blocks for the reports that aggregate in the database: days between two moments, the earliest
of several, medians, and money totals per group (converted with the close month's rate, the rest apart)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Date, DateTime, Float, and_, case, func, literal, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement, Select

from app.extensions import db
from app.money.service import NotConverted, reporting_currency, sql_conversion


class days_between(FunctionElement):  # noqa: N801 (reads as the SQL function it stands for)
    """Days (fractional) from the first moment (a timestamp or a date) to the second; NULL if either is."""

    type = Float()
    name = "days_between"
    inherit_cache = True


def _as_instant(clause, compiler, **kw) -> str:
    """A timestamp as it is; a date as its midnight in UTC (not the session's time zone)."""
    sql = compiler.process(clause, **kw)
    if isinstance(clause.type, Date) and not isinstance(clause.type, DateTime):
        return f"(CAST({sql} AS TIMESTAMP) AT TIME ZONE 'UTC')"
    return f"CAST({sql} AS TIMESTAMP WITH TIME ZONE)"


@compiles(days_between)
def _days_between_postgresql(element, compiler, **kw) -> str:
    start, end = (_as_instant(clause, compiler, **kw) for clause in element.clauses)
    return f"(EXTRACT(EPOCH FROM ({end} - {start})) / 86400.0)"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element, compiler, **kw) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(julianday({end}) - julianday({start}))"


def earliest(*moments: ColumnElement) -> ColumnElement:
    """The earliest of the non-NULL moments (NULL when all are): LEAST and MIN(a, b) disagree on NULLs."""
    result = moments[0]
    for other in moments[1:]:
        result = case(
            (result.is_(None), other),
            (or_(other.is_(None), result <= other), result),
            else_=other,
        )
    return result


def medians(durations: Select, *, keys: tuple[str, ...]) -> dict[tuple, float]:
    """The median of the `days` column of `durations` for each combination of `keys` columns, one query.

    Each group's middle row (or the mean of its two middle rows), found with window functions that SQLite
    and PostgreSQL both have.
    """
    rows = durations.where(durations.selected_columns.days.is_not(None)).subquery()
    partition = [rows.c[key] for key in keys]
    ranked = select(
        *partition,
        rows.c.days,
        func.row_number().over(partition_by=partition, order_by=rows.c.days).label("position"),
        func.count().over(partition_by=partition).label("size"),
    ).subquery()
    middle = or_(
        ranked.c.position == (ranked.c.size + 1) // 2,
        ranked.c.position == (ranked.c.size + 2) // 2,
    )
    query = (
        select(*(ranked.c[key] for key in keys), func.avg(ranked.c.days))
        .where(middle)
        .group_by(*(ranked.c[key] for key in keys))
    )
    return {tuple(row[:-1]): float(row[-1]) for row in db.session.execute(query)}


@dataclass
class GroupMoney:
    """The money of one group: converted amounts summed, the others apart by currency."""

    total: Decimal = Decimal(0)
    converted_deals: int = 0
    not_converted: list[NotConverted] = field(default_factory=list)

    @property
    def not_converted_deals(self) -> int:
        return sum(item.deals for item in self.not_converted)


def money_by(deals: Select, *, quote: str | None = None) -> dict:
    """Money per `key` of a select of deals (labelled columns key, amount, currency, close_date), one query.

    The same rules as money_total_of: an amount without a rate for its close month is kept apart.
    """
    quote = quote or reporting_currency()
    rows = deals.subquery()
    conversion = sql_conversion(rows.c.amount, rows.c.currency, rows.c.close_date, quote=quote)
    missing = conversion.amount.is_(None)
    grouped = db.session.execute(
        select(
            rows.c.key,
            missing.label("missing"),
            conversion.currency,
            func.count(),
            func.sum(rows.c.amount),
            func.sum(conversion.amount),
        )
        .select_from(rows)
        .outerjoin(conversion.rate, conversion.onclause)
        .where(rows.c.amount.is_not(None))
        .group_by(rows.c.key, missing, conversion.currency)
        .order_by(rows.c.key, conversion.currency)
    )
    result: dict = defaultdict(GroupMoney)
    for key, is_missing, currency, count, amount, converted in grouped:
        entry = result[key]
        if is_missing:
            entry.not_converted.append(NotConverted(currency, _money(amount), count))
        else:
            entry.total += _money(converted)
            entry.converted_deals += count
    return dict(result)


def in_band(converted: ColumnElement, bounds: tuple[Decimal, Decimal | None] | None) -> ColumnElement:
    """The amount band's condition on a converted amount (an amount without a rate is in no band)."""
    if bounds is None:
        return literal(True)
    low, high = bounds
    condition = and_(converted.is_not(None), converted >= low)
    return condition if high is None else and_(condition, converted < high)


def _money(value) -> Decimal:
    """A sum as money: SQLite hands back floats, PostgreSQL Decimals."""
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))
