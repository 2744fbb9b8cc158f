"""The deal rules every page, CSV, command and digest counts with, each written once.

- `lost_deal`, `won_deal`, `open_deal`: a deal's state, as SQL conditions.
- `DealFilter.apply`: the filters the reports, the CRM pages and the review queue share (period, segment,
  region, owner, amount band, competitor, campaign).

Each condition takes the deal as an entity, an alias (`aliased(Opportunity)`) or a table's columns
(`Opportunity.__table__.c`), so the same rule reads the lost deal, its recycled successor or a bulk query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, func, true
from sqlalchemy.sql.elements import ColumnElement

from app.crm.models import Account, Opportunity


def lost_deal(deal: Any = Opportunity) -> ColumnElement[bool]:
    """A lost deal: closed and not won (the deals Winback asks about, enrolls and reports on)."""
    return and_(deal.is_closed.is_(True), deal.is_won.is_(False))


def won_deal(deal: Any = Opportunity) -> ColumnElement[bool]:
    """A won deal: closed and won."""
    return and_(deal.is_closed.is_(True), deal.is_won.is_(True))


def open_deal(deal: Any = Opportunity) -> ColumnElement[bool]:
    """An open deal: not closed. An outer-joined deal that is missing (NULL) is not open.

    Written through COALESCE on purpose: a bare `is_closed = false` lets SQLite, without statistics,
    search the lost-deals index by is_closed alone and scan every open deal of the CRM for each candidate
    (minutes at 200k deals, campaigns.targeting); wrapped, it uses the account's index instead.
    """
    return func.coalesce(deal.is_closed, true()).is_(False)


DEAL_STATES = {"lost": lost_deal, "won": won_deal, "open": open_deal}


def in_state(state: str, deal: Any = Opportunity) -> ColumnElement[bool] | None:
    """The condition of a state by name (lost, won, open); None for any other (every deal)."""
    rule = DEAL_STATES.get(state)
    return rule(deal) if rule is not None else None


@dataclass(frozen=True)
class DealFilter:
    """The deal filters, applied one way everywhere. Empty values filter nothing.

    `start`/`end`: the close date's period (both included); `band`: the (low included, high excluded)
    bounds of the amount in the reporting currency, checked on the converted amount the caller passes (a
    deal without a rate has no band); `campaign`: checked on the campaign column the caller passes (an
    enrollment's or a requalification's).
    """

    start: date | None = None
    end: date | None = None
    segment: str | None = None
    region: str | None = None
    owner: str | None = None
    competitor: int | None = None
    band: tuple[Decimal, Decimal | None] | None = None
    campaign: int | None = None

    @property
    def needs_account(self) -> bool:
        return bool(self.segment or self.region)

    def apply(
        self,
        query: Select,
        *,
        deal: Any = Opportunity,
        account: Any = Account,
        join_account: bool = False,
        converted: ColumnElement | None = None,
        campaign_column: ColumnElement | None = None,
    ) -> Select:
        """`query` narrowed to the deals the filters keep.

        `join_account`: join the deal's account here (when a filter needs it); otherwise `account` is
        already in the query. `converted` must be given with a band, `campaign_column` with a campaign.
        """
        if self.start is not None:
            query = query.where(deal.close_date >= self.start)
        if self.end is not None:
            query = query.where(deal.close_date <= self.end)
        if join_account and self.needs_account:
            query = query.join(account, account.id == deal.account_id)
        if self.segment:
            query = query.where(account.segment == self.segment)
        if self.region:
            query = query.where(account.region == self.region)
        if self.owner:
            query = query.where(deal.owner == self.owner)
        if self.competitor:
            query = query.where(deal.competitor_id == self.competitor)
        if self.band is not None:
            if converted is None:
                raise ValueError("an amount band needs the converted amount")
            low, high = self.band
            query = query.where(converted >= low)
            if high is not None:
                query = query.where(converted < high)
        if self.campaign is not None:
            if campaign_column is None:
                raise ValueError("a campaign filter needs the campaign column")
            query = query.where(campaign_column == self.campaign)
        return query
