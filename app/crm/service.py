"""Read-side queries over the CRM data; the import service writes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import Select, func, or_, select

from app.crm.deals import DealFilter, in_state, lost_deal, won_deal
from app.crm.models import Account, Competitor, Opportunity
from app.extensions import db
from app.money.service import DEFAULT_CURRENCY, MoneyTotal, NotConverted, reporting_currency, sql_conversion

STATUSES = ("lost", "won", "open", "all")


@dataclass(frozen=True)
class OpportunityFilters:
    status: str = "lost"
    search: str = ""
    segment: str = ""
    region: str = ""
    competitor_id: int | None = None
    loss_reason: str = ""


def with_status(query: Select, status: str) -> Select:
    condition = in_state(status)
    return query if condition is None else query.where(condition)


OPPORTUNITY_SORTS = {
    "name": Opportunity.name,
    "account": Account.name,
    "amount": Opportunity.amount,
    "closed": Opportunity.close_date,
    "stage": Opportunity.stage,
}
ACCOUNT_SORTS = {
    "name": Account.name,
    "industry": Account.industry,
    "segment": Account.segment,
    "region": Account.region,
    "country": Account.country,
}


def opportunities_query(filters: OpportunityFilters, order: tuple = ()) -> Select:
    query = select(Opportunity).join(Opportunity.account)
    query = with_status(query, filters.status)
    if filters.search:
        pattern = f"%{filters.search.strip()}%"
        query = query.where(or_(Opportunity.name.ilike(pattern), Account.name.ilike(pattern)))
    query = DealFilter(
        segment=filters.segment or None, region=filters.region or None, competitor=filters.competitor_id
    ).apply(query)
    if filters.loss_reason:
        query = query.where(Opportunity.crm_loss_reason == filters.loss_reason)
    if order:
        return query.order_by(*order, Opportunity.id.desc())
    return query.order_by(Opportunity.close_date.desc().nulls_last(), Opportunity.id.desc())


def accounts_query(search: str = "", order: tuple = ()) -> Select:
    query = select(Account)
    if search:
        query = query.where(Account.name.ilike(f"%{search.strip()}%"))
    return query.order_by(*order, Account.name, Account.id)


def filter_choices() -> dict[str, list]:
    """Distinct values offered in the filter drop-downs."""

    def distinct(column) -> list[str]:
        return list(db.session.scalars(select(column).where(column.is_not(None)).distinct().order_by(column)))

    return {
        "segments": distinct(Account.segment),
        "regions": distinct(Account.region),
        "loss_reasons": distinct(Opportunity.crm_loss_reason),
        "competitors": list(db.session.scalars(select(Competitor).order_by(Competitor.name))),
    }


@dataclass(frozen=True)
class LossSummary:
    lost_count: int
    won_count: int
    top_reasons: list[tuple[str, int]]
    top_competitors: list[tuple[str, int]]
    recent_window_days: int
    # The same deals' amounts in the reporting currency (the answer of money_total_of(lost_deals_since)).
    lost_revenue: MoneyTotal | None = None


def lost_deals_since(since: date) -> Select:
    """Lost deals closed on or after `since`, as the labelled columns a money total needs."""
    return select(
        Opportunity.amount.label("amount"),
        Opportunity.currency.label("currency"),
        Opportunity.close_date.label("close_date"),
    ).where(lost_deal(), Opportunity.close_date >= since)


def loss_summary(*, today: date, window_days: int = 365, quote: str | None = None) -> LossSummary:
    """Lost deals of the last window_days: how many, why, to whom and how much (converted into the reporting
    currency in SQL, with the rules of money_total_of: an amount without a rate is counted apart).

    One pass over the lost deals, grouped by plain columns (CRM loss reason, competitor, currency, with an
    amount or not, with a rate or not): a few hundred groups from which the count, both top lists and the
    money follow, instead of a scan of the same deals for each.
    """
    since = today - timedelta(days=window_days)
    quote = quote or reporting_currency()
    conversion = sql_conversion(Opportunity.amount, Opportunity.currency, Opportunity.close_date, quote=quote)
    no_amount = Opportunity.amount.is_(None)
    no_rate = conversion.rate.rate.is_(None)
    groups = db.session.execute(
        select(
            Opportunity.crm_loss_reason,
            Opportunity.competitor_id,
            Opportunity.currency,
            no_amount,
            no_rate,
            func.count(),
            func.sum(Opportunity.amount),
            func.sum(conversion.amount),
        )
        .select_from(Opportunity)
        .outerjoin(conversion.rate, conversion.onclause)
        .where(lost_deal(), Opportunity.close_date >= since)
        .group_by(
            Opportunity.crm_loss_reason, Opportunity.competitor_id, Opportunity.currency, no_amount, no_rate
        )
    ).all()
    won_count = db.session.scalar(select(func.count()).where(won_deal(), Opportunity.close_date >= since))
    lost_count = 0
    per_reason: dict[str, int] = {}
    per_competitor: dict[int, int] = {}
    total, converted_deals, apart = Decimal(0), 0, {}
    for reason, competitor_id, raw_currency, without_amount, without_rate, count, amount, converted in groups:
        lost_count += count
        currency = raw_currency or DEFAULT_CURRENCY
        if without_amount:
            pass
        elif without_rate and currency != quote:  # not converted: counted apart
            entry = apart.setdefault(currency, [Decimal(0), 0])
            entry[0] += _money(amount)
            entry[1] += count
        else:
            total += _money(converted)
            converted_deals += count
        if reason is not None:
            per_reason[reason] = per_reason.get(reason, 0) + count
        if competitor_id is not None:
            per_competitor[competitor_id] = per_competitor.get(competitor_id, 0) + count
    names = dict(
        db.session.execute(
            select(Competitor.id, Competitor.name).where(Competitor.id.in_(list(per_competitor)))
        ).all()
    )
    reasons = sorted(per_reason.items(), key=lambda item: (-item[1], item[0]))[:6]
    competitors = sorted(
        (
            (names[competitor_id], count)
            for competitor_id, count in per_competitor.items()
            if competitor_id in names
        ),
        key=lambda item: (-item[1], item[0]),
    )[:6]
    return LossSummary(
        lost_count=lost_count,
        won_count=won_count or 0,
        top_reasons=[tuple(row) for row in reasons],
        top_competitors=[tuple(row) for row in competitors],
        recent_window_days=window_days,
        lost_revenue=MoneyTotal(
            quote,
            total,
            converted_deals,
            [NotConverted(currency, amount, deals) for currency, (amount, deals) in sorted(apart.items())],
        ),
    )


def _money(value) -> Decimal:
    """A sum as money: SQLite hands back floats, PostgreSQL Decimals."""
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))
