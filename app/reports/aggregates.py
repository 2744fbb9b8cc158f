"""SQL building blocks for the reports that aggregate in the database: days between two moments, the earliest
of several, medians, and money totals per group (converted with the close month's rate, the rest apart)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Float,
    MetaData,
    Table,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement, Select

from app.extensions import db
from app.money.service import NotConverted, money_totals_by


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


def medians(source: Select, columns: tuple[str, ...], *, keys: tuple[str, ...] = ()) -> dict[tuple, dict]:
    """The median of each of `columns` (days; NULLs left out) of `source`, per combination of `keys` columns.

    {(key values...): {column: median}}; a group whose column has no value has no entry for it.
    PostgreSQL computes every column in one ordered-set aggregate query; SQLite, which has no
    percentile_cont, takes each group's middle row (or the mean of its two middle rows) with window
    functions, one query per column.
    """
    rows = source.subquery()
    group = [rows.c[key] for key in keys]
    result: dict[tuple, dict] = {}
    if db.session.get_bind().dialect.name == "postgresql":
        query = select(
            *group, *(func.percentile_cont(0.5).within_group(rows.c[column]) for column in columns)
        ).group_by(*group)
        for row in db.session.execute(query):
            values = {c: float(v) for c, v in zip(columns, row[len(keys) :], strict=True) if v is not None}
            if values:
                result[tuple(row[: len(keys)])] = values
        return result
    for column in columns:
        kept = select(*group, rows.c[column].label("days")).where(rows.c[column].is_not(None)).subquery()
        partition = [kept.c[key] for key in keys]
        ranked = select(
            *partition,
            kept.c.days,
            func.row_number().over(partition_by=partition or None, order_by=kept.c.days).label("position"),
            func.count().over(partition_by=partition or None).label("size"),
        ).subquery()
        middle = or_(
            ranked.c.position == (ranked.c.size + 1) // 2,
            ranked.c.position == (ranked.c.size + 2) // 2,
        )
        by = [ranked.c[key] for key in keys]
        query = select(*by, func.avg(ranked.c.days)).where(middle).group_by(*by)
        for row in db.session.execute(query):
            if row[-1] is not None:
                result.setdefault(tuple(row[:-1]), {})[column] = float(row[-1])
    return result


def counts_and_medians(
    source: Select, key: str, counts: dict, median_columns: tuple[str, ...]
) -> tuple[dict, dict]:
    """Counts and medians of `source` per `key` value and for all rows: ({key value: figures}, figures).

    `counts` maps a name to a function of the source's columns giving a COUNT (additive, so SQLite's total
    is their sum); the figures hold each count by name and each median as "median_<column>" (absent when
    no row has a value). PostgreSQL answers with one GROUPING SETS query; SQLite groups by key and takes
    the medians with window functions.
    """
    rows = source.subquery()
    figures = [build(rows.c).label(name) for name, build in counts.items()]
    per_key: dict = {}
    if db.session.get_bind().dialect.name == "postgresql":
        medians_sql = [
            func.percentile_cont(0.5).within_group(rows.c[column]).label(f"median_{column}")
            for column in median_columns
        ]
        total: dict = {}
        query = select(
            rows.c[key], func.grouping(rows.c[key]).label("is_total"), *figures, *medians_sql
        ).group_by(func.grouping_sets(rows.c[key], text("()")))
        for row in db.session.execute(query).mappings():
            values = {name: value for name, value in row.items() if name not in (key, "is_total")}
            values = {
                name: float(value) if name.startswith("median_") else value
                for name, value in values.items()
                if value is not None
            }
            if row["is_total"]:
                total = values
            else:
                per_key[row[key]] = values
        return per_key, total or {name: 0 for name in counts}
    with _materialized(source) as facts:
        figures = [build(facts.c).label(name) for name, build in counts.items()]
        for row in db.session.execute(select(facts.c[key], *figures).group_by(facts.c[key])).mappings():
            per_key[row[key]] = {name: row[name] for name in counts}
        total = {name: sum(values[name] for values in per_key.values()) for name in counts}
        for (value,), found in medians(select(facts), median_columns, keys=(key,)).items():
            per_key[value].update({f"median_{column}": days for column, days in found.items()})
        overall = medians(select(facts), median_columns).get((), {})
        total.update({f"median_{column}": days for column, days in overall.items()})
    return per_key, total


@contextmanager
def _materialized(source: Select) -> Iterator[Table]:
    """SQLite: the rows of `source` in a temporary table for the queries that follow, which would
    otherwise each compute them again (SQLite has no GROUPING SETS: the counts and every median are
    queries of their own). A temporary table is private to the connection and locks nothing else."""
    connection = db.session.connection()
    name = f"report_facts_{uuid.uuid4().hex}"
    columns = [column.name for column in source.selected_columns]
    quoted = ", ".join(f'"{column}"' for column in columns)
    connection.exec_driver_sql(f"CREATE TEMP TABLE {name} ({quoted})")
    table = Table(name, MetaData(), *(Column(c.name, c.type) for c in source.selected_columns))
    try:
        connection.execute(table.insert().from_select(columns, source))
        yield table
    finally:
        connection.exec_driver_sql(f"DROP TABLE temp.{name}")


@dataclass
class GroupMoney:
    """The money of one group: converted amounts summed, the others apart by currency."""

    total: Decimal = Decimal(0)
    converted_deals: int = 0
    not_converted: list[NotConverted] = field(default_factory=list)

    @property
    def not_converted_deals(self) -> int:
        return sum(item.deals for item in self.not_converted)


def money_by(deals: Select, *, keys: tuple[str, ...] = ("key",), quote: str | None = None) -> dict:
    """Money per `keys` of a select of deals (labelled columns key, amount, currency, close_date), one query.

    The same rules as money_total_of: an amount without a rate for its close month is kept apart. With one
    key column the result is keyed by its value, with several by the tuple of their values.
    """
    return {
        key[0] if len(keys) == 1 else key: GroupMoney(money.total, money.converted_deals, money.not_converted)
        for key, money in money_totals_by(deals, keys=keys, quote=quote).items()
    }


def in_band(converted: ColumnElement, bounds: tuple[Decimal, Decimal | None] | None) -> ColumnElement:
    """The amount band's condition on a converted amount (an amount without a rate is in no band)."""
    if bounds is None:
        return literal(True)
    low, high = bounds
    condition = and_(converted.is_not(None), converted >= low)
    return condition if high is None else and_(condition, converted < high)
