"""The filters every report shares, read from the URL (so a view can be shared) and checked at the edge."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

from flask import abort
from sqlalchemy import func, select, text
from sqlalchemy.sql.expression import ColumnElement, Select

from app.crm.deals import DealFilter, lost_deal
from app.crm.models import Account, Competitor, Opportunity
from app.extensions import db
from app.money.service import SqlConversion, sql_conversion

# Amount bands in the reporting currency: (key, label, lower bound included, upper bound excluded).
BANDS = (
    ("small", "Under 10,000", Decimal(0), Decimal(10_000)),
    ("medium", "10,000 to 50,000", Decimal(10_000), Decimal(50_000)),
    ("large", "50,000 to 250,000", Decimal(50_000), Decimal(250_000)),
    ("xlarge", "250,000 or more", Decimal(250_000), None),
)
BAND_KEYS = {key for key, *_ in BANDS}
WEIGHTS = ("count", "amount")


def months_back(today: date, months: int) -> date:
    """The first day of the month `months` before today's month."""
    index = today.year * 12 + today.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def month_starts(start: date, end: date) -> list[date]:
    """Every month from start's to end's, as first days: empty months are shown, not skipped."""
    months = []
    current = start.replace(day=1)
    while current <= end:
        months.append(current)
        current = date(current.year + (current.month == 12), current.month % 12 + 1, 1)
    return months


@dataclass(frozen=True)
class ReportFilters:
    start: date
    end: date
    segment: str | None = None
    region: str | None = None
    competitor: int | None = None
    owner: str | None = None
    band: str | None = None
    weight: str = "count"

    def args(self) -> dict[str, str]:
        """The URL arguments that give the same view."""
        values = {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "segment": self.segment,
            "region": self.region,
            "competitor": str(self.competitor) if self.competitor else None,
            "owner": self.owner,
            "band": self.band,
            "weight": self.weight if self.weight != "count" else None,
        }
        return {key: value for key, value in values.items() if value}

    @property
    def active(self) -> int:
        return sum(
            1 for value in (self.segment, self.region, self.competitor, self.owner, self.band) if value
        )

    def band_bounds(self) -> tuple[Decimal, Decimal | None] | None:
        for key, _label, low, high in BANDS:
            if key == self.band:
                return low, high
        return None

    def deals(self) -> DealFilter:
        """The deal filters these report filters apply (one DealFilter.apply for every report)."""
        return DealFilter(
            start=self.start,
            end=self.end,
            segment=self.segment,
            region=self.region,
            owner=self.owner,
            competitor=self.competitor,
            band=self.band_bounds(),
        )

    def with_(self, **changes) -> ReportFilters:
        return replace(self, **changes)


# The dates a report period may use: the reports count days and months past its ends, which year 1 and
# year 9999 do not have.
EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)


def _date(raw: str | None, name: str, errors: list[str]) -> date | None:
    if not raw:
        return None
    try:
        value = datetime.strptime(raw.strip(), "%Y-%m-%d").date()  # noqa: DTZ007 (a calendar date)
    except ValueError:
        errors.append(f"Enter the {name} date as YYYY-MM-DD, for example 2026-01-31.")
        return None
    if not EARLIEST <= value <= LATEST:
        errors.append(f"Enter the {name} date between {EARLIEST.year} and {LATEST.year}.")
        return None
    return value


def parse_filters(args, *, today: date) -> tuple[ReportFilters, list[str]]:
    """The filters of the URL, and a sentence for each value that could not be read (that one is dropped)."""
    errors: list[str] = []
    end = _date(args.get("to"), "end", errors) or today
    start = _date(args.get("from"), "start", errors) or months_back(end, 11)
    if start > end:
        errors.append("The start date is after the end date; the last 12 months are shown.")
        end, start = today, months_back(today, 11)
    if (end.year - start.year) * 12 + end.month - start.month > 120:
        errors.append("Choose a period of at most ten years; the last ten years are shown.")
        start = months_back(end, 119)
    competitor = None
    if args.get("competitor"):
        try:
            competitor = int(args["competitor"])
        except ValueError:
            errors.append("That competitor is not known; all competitors are shown.")
    band = args.get("band") or None
    if band and band not in BAND_KEYS:
        errors.append("That amount band is not known; all amounts are shown.")
        band = None
    weight = args.get("weight") or "count"
    if weight not in WEIGHTS:
        errors.append("Weight the reasons by count or by amount; by count is shown.")
        weight = "count"
    filters = ReportFilters(
        start=start,
        end=end,
        segment=(args.get("segment") or "").strip()[:64] or None,
        region=(args.get("region") or "").strip()[:64] or None,
        competitor=competitor,
        owner=(args.get("owner") or "").strip()[:255] or None,
        band=band,
        weight=weight,
    )
    return filters, errors


def _owners() -> list[str]:
    """The deals' owners, one index probe each (a recursive "next owner after this one"): a DISTINCT read
    every deal, 100k of them, for a list of a few dozen names."""
    table = Opportunity.__table__
    found = select(func.min(table.c.owner).label("owner")).cte("owners", recursive=True)
    after = select(func.min(table.c.owner)).where(table.c.owner > found.c.owner).scalar_subquery()
    found = found.union_all(select(after).where(found.c.owner.is_not(None)))
    return list(
        db.session.scalars(select(found.c.owner).where(found.c.owner.is_not(None)).order_by(found.c.owner))
    )


def filter_choices() -> dict:
    """The values the filter bar offers."""

    def values(column):
        return [
            v
            for v in db.session.scalars(select(column).where(column.is_not(None)).distinct().order_by(column))
        ]

    return {
        "segments": values(Account.segment),
        "regions": values(Account.region),
        "owners": _owners(),
        "competitors": list(
            db.session.execute(select(Competitor.id, Competitor.name).order_by(Competitor.name))
        ),
        "bands": [(key, label) for key, label, *_ in BANDS],
    }


def lost_opportunities(filters: ReportFilters):
    """The select of the lost deals the filters keep (the amount band is applied after conversion)."""
    query = (
        select(
            Opportunity.id,
            Opportunity.name,
            Opportunity.amount,
            Opportunity.currency,
            Opportunity.close_date,
            Opportunity.owner,
            Opportunity.crm_loss_reason,
            Account.name.label("account_name"),
        )
        .join(Account, Account.id == Opportunity.account_id)
        .where(lost_deal())
    )
    return replace(filters, band=None).deals().apply(query)


@dataclass(frozen=True)
class DealScope:
    """The lost deals the filters keep, in SQL: `converted` is the amount in the reporting currency (NULL
    without a rate), and `select(...)` starts a query over those deals, the amount band applied to it."""

    filters: ReportFilters
    quote: str
    conversion: SqlConversion

    @property
    def converted(self) -> ColumnElement:
        return self.conversion.amount

    def select(self, *columns, accounts: bool = False, rates: bool = True) -> Select:
        """`accounts`: join the deals' accounts even when no filter needs them (to show their names);
        `rates=False`: the columns do not use `converted` (SQLite would look up a rate per deal for nothing).
        """
        filters = self.filters
        query = select(*columns).select_from(Opportunity)
        if rates or filters.band:
            query = query.outerjoin(self.conversion.rate, self.conversion.onclause)
        query = query.where(lost_deal())
        if accounts:
            query = query.join(Account, Account.id == Opportunity.account_id)
        return filters.deals().apply(query, join_account=not accounts, converted=self.converted)


REPORT_WORK_MEM = "32MB"


def room_for_aggregates() -> None:
    """Let PostgreSQL hash a report's groups in memory for the rest of this transaction.

    Its default work_mem (4MB) made it sort the 90k rows of the loss-reasons aggregate on disk; measured at
    100k deals, the query takes about a third less time with room to hash. SQLite has no such setting.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'"))


def deal_scope(filters: ReportFilters, quote: str) -> DealScope:
    conversion = sql_conversion(Opportunity.amount, Opportunity.currency, Opportunity.close_date, quote=quote)
    return DealScope(filters, quote, conversion)


def refuse_bad_filters(errors: list[str]) -> None:
    """A CSV has no page to show its filters' errors on: it is refused with them, as the page answers 400."""
    if errors:
        abort(400, " ".join(errors))
