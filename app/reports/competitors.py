"""Competitors: the deals lost to each, their amount, the customers' main reasons, how satisfied those
customers are with the competitor now, and how many came back. Aggregated in the database.

Satisfaction is read the way the pipeline's requalification rule reads it (`app.pipeline.scoring`): the
number answered to the question marked with the "vendor satisfaction" signal, in a complete response; a
rating at or below the rule's `low_satisfaction_max` is "unhappy". A deal answered more than once (on the web
and by phone) counts once, with its latest rating.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import aliased

from app.codebook.models import ReasonCode
from app.coding.models import OpportunityReason
from app.crm.models import Account, Competitor, Opportunity
from app.extensions import db
from app.money.service import NotConverted, reporting_currency, sql_conversion
from app.pipeline.models import Requalification, RequalificationStatus
from app.pipeline.scoring import default_rule
from app.reports.aggregates import GroupMoney, in_band, money_by
from app.reports.filters import ReportFilters, lost_opportunities, room_for_aggregates
from surveys.models import Answer, Question, Response, ResponseStatus, Signal

TOP_REASONS = 3
DRILL_LIMIT = 500


@dataclass(frozen=True)
class ReasonCount:
    code_id: int
    code: str
    label: str
    deals: int


@dataclass
class CompetitorRow:
    competitor_id: int
    name: str
    deals: int = 0
    money: GroupMoney = field(default_factory=GroupMoney)
    reasons: list[ReasonCount] = field(default_factory=list)  # the top 3 customer-stated reasons
    rated: int = 0  # deals whose customer rated the competitor
    average_rating: float | None = None
    unhappy: int = 0  # rated at or below the requalification rule's threshold
    requalified: int = 0
    accepted: int = 0
    won: int = 0


@dataclass
class CompetitorsReport:
    filters: ReportFilters
    currency: str
    unhappy_max: int
    rows: list[CompetitorRow]
    lost_deals: int  # every lost deal the filters keep
    without_competitor: int  # of which no competitor is recorded
    not_converted: list[NotConverted]


def _kept(filters: ReportFilters, quote: str):
    """The lost deals the filters keep, with their competitor and converted amount (band applied)."""
    deals = lost_opportunities(filters).add_columns(Opportunity.competitor_id).subquery()
    conversion = sql_conversion(deals.c.amount, deals.c.currency, deals.c.close_date, quote=quote)
    return (
        select(
            deals.c.id,
            deals.c.competitor_id,
            deals.c.amount,
            deals.c.currency,
            deals.c.close_date,
            conversion.amount.label("converted"),
        )
        .select_from(deals)
        .outerjoin(conversion.rate, conversion.onclause)
        .where(in_band(conversion.amount, filters.band_bounds()))
        .subquery()
    )


def latest_ratings():
    """Each opportunity's latest vendor-satisfaction rating in a complete response."""
    ranked = (
        select(
            Response.opportunity_id.label("opportunity_id"),
            Answer.number.label("rating"),
            func.row_number()
            .over(
                partition_by=Response.opportunity_id,
                order_by=(
                    func.coalesce(Response.completed_at, Response.updated_at).desc(),
                    Response.id.desc(),
                ),
            )
            .label("position"),
        )
        .join(Answer, Answer.response_id == Response.id)
        .join(Question, Question.id == Answer.question_id)
        .where(
            Question.signal == Signal.VENDOR_SATISFACTION,
            Answer.number.is_not(None),
            Response.status == ResponseStatus.COMPLETE,
            Response.opportunity_id.is_not(None),
        )
        .subquery()
    )
    return select(ranked.c.opportunity_id, ranked.c.rating).where(ranked.c.position == 1).subquery()


def competitors_report(filters: ReportFilters) -> CompetitorsReport:
    quote = reporting_currency()
    room_for_aggregates()
    unhappy_max = default_rule().low_satisfaction_max
    kept = _kept(filters, quote)
    deals_per_competitor = dict(
        db.session.execute(select(kept.c.competitor_id, func.count()).group_by(kept.c.competitor_id)).all()
    )
    without = deals_per_competitor.pop(None, 0)
    lost = without + sum(deals_per_competitor.values())
    rows: dict[int, CompetitorRow] = {
        competitor_id: CompetitorRow(competitor_id, name, deals_per_competitor[competitor_id])
        for competitor_id, name in db.session.execute(
            select(Competitor.id, Competitor.name).where(Competitor.id.in_(list(deals_per_competitor)))
        )
    }
    with_competitor = kept.c.competitor_id.is_not(None)
    for competitor_id, group in money_by(
        select(kept.c.competitor_id.label("key"), kept.c.amount, kept.c.currency, kept.c.close_date).where(
            with_competitor
        ),
        quote=quote,
    ).items():
        rows[competitor_id].money = group
    ranked_reasons = (
        select(
            kept.c.competitor_id,
            ReasonCode.id.label("code_id"),
            ReasonCode.code,
            ReasonCode.label,
            # A deal has a reason at most once (unique opportunity and reason): a plain count is per deal.
            func.count().label("deals"),
            func.row_number()
            .over(
                partition_by=kept.c.competitor_id,
                order_by=(func.count().desc(), ReasonCode.code),
            )
            .label("position"),
        )
        .join(OpportunityReason, OpportunityReason.opportunity_id == kept.c.id)
        .join(ReasonCode, ReasonCode.id == OpportunityReason.reason_code_id)
        .where(with_competitor)
        .group_by(kept.c.competitor_id, ReasonCode.id, ReasonCode.code, ReasonCode.label)
        .subquery()
    )
    for competitor_id, code_id, code, label, deals in db.session.execute(
        select(
            ranked_reasons.c.competitor_id,
            ranked_reasons.c.code_id,
            ranked_reasons.c.code,
            ranked_reasons.c.label,
            ranked_reasons.c.deals,
        )
        .where(ranked_reasons.c.position <= TOP_REASONS)
        .order_by(ranked_reasons.c.competitor_id, ranked_reasons.c.position)
    ):
        rows[competitor_id].reasons.append(ReasonCount(code_id, code, label, deals))
    ratings = latest_ratings()
    for competitor_id, rated, average, unhappy in db.session.execute(
        select(
            kept.c.competitor_id,
            func.count(),
            func.avg(ratings.c.rating),
            func.count().filter(ratings.c.rating <= unhappy_max),
        )
        .join(ratings, ratings.c.opportunity_id == kept.c.id)
        .where(with_competitor)
        .group_by(kept.c.competitor_id)
    ):
        row = rows[competitor_id]
        row.rated, row.average_rating, row.unhappy = rated, float(average), unhappy
    recycled = aliased(Opportunity)
    accepted = Requalification.status == RequalificationStatus.ACCEPTED
    for competitor_id, requalified, accepted_count, won in db.session.execute(
        select(
            kept.c.competitor_id,
            func.count(func.distinct(kept.c.id)),
            func.count(func.distinct(case((accepted, kept.c.id)))),
            func.count(func.distinct(case((and_(accepted, recycled.is_won.is_(True)), kept.c.id)))),
        )
        .join(Requalification, Requalification.opportunity_id == kept.c.id)
        .outerjoin(recycled, recycled.id == Requalification.recycled_opportunity_id)
        .where(with_competitor)
        .group_by(kept.c.competitor_id)
    ):
        row = rows[competitor_id]
        row.requalified, row.accepted, row.won = requalified, accepted_count, won
    apart: dict[str, list] = {}
    for row in rows.values():
        for item in row.money.not_converted:
            entry = apart.setdefault(item.currency, [Decimal(0), 0])
            entry[0] += item.amount
            entry[1] += item.deals
    return CompetitorsReport(
        filters=filters,
        currency=quote,
        unhappy_max=unhappy_max,
        rows=sorted(rows.values(), key=lambda r: (-r.deals, -r.money.total, r.name)),
        lost_deals=lost,
        without_competitor=without,
        not_converted=[NotConverted(c, a, n) for c, (a, n) in sorted(apart.items())],
    )


@dataclass(frozen=True)
class CompetitorDeal:
    id: int
    name: str
    account_name: str
    owner: str | None
    close_date: date | None
    amount: Decimal | None
    currency: str
    converted: Decimal | None
    crm_loss_reason: str | None
    main_reason: str | None  # the customer's primary reason
    rating: int | None
    came_back: str | None  # the latest requalification's status, "won" once its recycled deal is won
    came_back_at: datetime | None = None


def competitor_deals(filters: ReportFilters, competitor: Competitor) -> list[CompetitorDeal]:
    """The lost deals of one competitor that the filters keep, newest close first."""
    quote = reporting_currency()
    kept = _kept(filters, quote)
    ratings = latest_ratings()
    latest = (
        select(
            Requalification.opportunity_id,
            func.max(Requalification.id).label("requalification_id"),
        )
        .group_by(Requalification.opportunity_id)
        .subquery()
    )
    recycled = aliased(Opportunity)
    rows = db.session.execute(
        select(
            Opportunity.id,
            Opportunity.name,
            Account.name,
            Opportunity.owner,
            kept.c.close_date,
            kept.c.amount,
            func.coalesce(kept.c.currency, "USD"),
            kept.c.converted,
            Opportunity.crm_loss_reason,
            ReasonCode.label,
            ratings.c.rating,
            Requalification.status,
            recycled.is_won,
            Requalification.created_at,
        )
        .select_from(kept)
        .join(Opportunity, Opportunity.id == kept.c.id)
        .join(Account, Account.id == Opportunity.account_id)
        .outerjoin(
            OpportunityReason,
            and_(OpportunityReason.opportunity_id == kept.c.id, OpportunityReason.is_primary.is_(True)),
        )
        .outerjoin(ReasonCode, ReasonCode.id == OpportunityReason.reason_code_id)
        .outerjoin(ratings, ratings.c.opportunity_id == kept.c.id)
        .outerjoin(latest, latest.c.opportunity_id == kept.c.id)
        .outerjoin(Requalification, Requalification.id == latest.c.requalification_id)
        .outerjoin(recycled, recycled.id == Requalification.recycled_opportunity_id)
        .where(kept.c.competitor_id == competitor.id)
        .order_by(kept.c.close_date.desc(), Opportunity.id)
        .limit(DRILL_LIMIT)
    ).all()
    deals = []
    for (
        opportunity_id,
        name,
        account_name,
        owner,
        close_date,
        amount,
        currency,
        converted,
        crm_reason,
        main_reason,
        rating,
        status,
        is_won,
        requalified_at,
    ) in rows:
        came_back = None
        if status is not None:
            came_back = "won" if status == RequalificationStatus.ACCEPTED and is_won else str(status)
        deals.append(
            CompetitorDeal(
                opportunity_id,
                name,
                account_name,
                owner,
                close_date,
                None if amount is None else Decimal(str(amount)),
                currency,
                None if converted is None else Decimal(str(converted)).quantize(Decimal("0.01")),
                crm_reason,
                main_reason,
                rating,
                came_back,
                requalified_at,
            )
        )
    return deals
