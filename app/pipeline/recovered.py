"""Recovered revenue and the requalification steps, each written once.

Recovered revenue is the amount of the won recycled deals, each once (a recycled deal is linked to at most
one requalification), converted into the reporting currency at the rate of its close month; an amount
without a rate is counted apart, never converted at another month's rate. `pipeline stats`, the funnel
(page, CSV, `reports figures`), the homes, the targets, the digest and the by-campaign and by-owner tables
all count it with `won_back` and `recovered_deals`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from app.crm.deals import DealFilter, lost_deal, open_deal, won_deal
from app.crm.models import Account, Opportunity
from app.pipeline.models import Requalification, RequalificationStatus
from app.pipeline.teams import TeamScope


def accepted_requalification() -> ColumnElement[bool]:
    """A requalification sales accepted."""
    return Requalification.status == RequalificationStatus.ACCEPTED


def won_back(recycled: Any) -> ColumnElement[bool]:
    """A requalification won back: accepted, and its recycled deal (`recycled`, joined on
    Requalification.recycled_opportunity_id) is won."""
    return and_(accepted_requalification(), won_deal(recycled))


def recycled_closed(recycled: Any) -> ColumnElement[bool]:
    """Accepted, and its recycled deal is closed, won or lost (the win rate's denominator)."""
    return and_(accepted_requalification(), or_(won_deal(recycled), lost_deal(recycled)))


def in_open_pipeline(recycled: Any) -> ColumnElement[bool]:
    """Accepted and not closed yet: its recycled deal is open, or the CRM has not sent it back yet
    (`recycled` outer-joined, so missing)."""
    return and_(accepted_requalification(), or_(recycled.id.is_(None), open_deal(recycled)))


def recovered_money(recycled: Any) -> tuple[ColumnElement, ColumnElement, ColumnElement]:
    """What a won-back requalification recovered: its recycled deal's amount, currency and close date (the
    month whose rate converts it)."""
    return recycled.amount, recycled.currency, recycled.close_date


def recovered_deals(
    *,
    start: date | None = None,
    end: date | None = None,
    scope: TeamScope | None = None,
    campaign_id: int | None = None,
) -> Select:
    """The won recycled deals, each once, as the labelled columns a money total needs (amount, currency,
    close_date) with who gets the credit (campaign_id, owner: the requalification's).

    `start`/`end`: closed in that period (both included); `scope`: the team that lost the original deal
    (its owner, its account's region); `campaign_id`: the requalification's campaign.
    """
    recycled = aliased(Opportunity, name="recycled")
    amount, currency, close_date = recovered_money(recycled)
    query = (
        select(
            amount.label("amount"),
            currency.label("currency"),
            close_date.label("close_date"),
            Requalification.campaign_id.label("campaign_id"),
            Requalification.owner.label("owner"),
        )
        .select_from(Requalification)
        .join(recycled, recycled.id == Requalification.recycled_opportunity_id)
        .where(won_back(recycled))
    )
    query = DealFilter(start=start, end=end, campaign=campaign_id).apply(
        query, deal=recycled, campaign_column=Requalification.campaign_id
    )
    condition = scope.condition(Opportunity.owner, Account.region) if scope is not None else None
    if condition is not None:
        query = (
            query.join(Account, Account.id == Requalification.account_id)
            .outerjoin(Opportunity, Opportunity.id == Requalification.opportunity_id)
            .where(condition)
        )
    return query
