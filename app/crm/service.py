"""Read-side queries over the CRM data; the import service writes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Select, func, or_, select

from app.crm.models import Account, Competitor, Opportunity
from app.extensions import db

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
    if status == "lost":
        return query.where(Opportunity.is_closed.is_(True), Opportunity.is_won.is_(False))
    if status == "won":
        return query.where(Opportunity.is_closed.is_(True), Opportunity.is_won.is_(True))
    if status == "open":
        return query.where(Opportunity.is_closed.is_(False))
    return query


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
    if filters.segment:
        query = query.where(Account.segment == filters.segment)
    if filters.region:
        query = query.where(Account.region == filters.region)
    if filters.competitor_id:
        query = query.where(Opportunity.competitor_id == filters.competitor_id)
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


def lost_deals_since(since: date) -> Select:
    """Lost deals closed on or after `since`, as the labelled columns a money total needs."""
    return select(
        Opportunity.amount.label("amount"),
        Opportunity.currency.label("currency"),
        Opportunity.close_date.label("close_date"),
    ).where(
        Opportunity.is_closed.is_(True),
        Opportunity.is_won.is_(False),
        Opportunity.close_date >= since,
    )


def loss_summary(*, today: date, window_days: int = 365) -> LossSummary:
    """Lost deals of the last window_days: how many, why, and to whom (how much: money_total_of with
    lost_deals_since, converted into the reporting currency in SQL)."""
    since = today - timedelta(days=window_days)
    lost = (
        select(Opportunity)
        .where(
            Opportunity.is_closed.is_(True),
            Opportunity.is_won.is_(False),
            Opportunity.close_date >= since,
        )
        .subquery()
    )
    lost_count = db.session.scalar(select(func.count()).select_from(lost))
    won_count = db.session.scalar(
        select(func.count()).where(Opportunity.is_won.is_(True), Opportunity.close_date >= since)
    )
    reasons = db.session.execute(
        select(lost.c.crm_loss_reason, func.count())
        .where(lost.c.crm_loss_reason.is_not(None))
        .group_by(lost.c.crm_loss_reason)
        .order_by(func.count().desc(), lost.c.crm_loss_reason)
        .limit(6)
    ).all()
    competitors = db.session.execute(
        select(Competitor.name, func.count())
        .join(lost, lost.c.competitor_id == Competitor.id)
        .group_by(Competitor.name)
        .order_by(func.count().desc(), Competitor.name)
        .limit(6)
    ).all()
    return LossSummary(
        lost_count=lost_count,
        won_count=won_count or 0,
        top_reasons=[tuple(row) for row in reasons],
        top_competitors=[tuple(row) for row in competitors],
        recent_window_days=window_days,
    )
