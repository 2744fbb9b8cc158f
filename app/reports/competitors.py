"""Competitors: the deals lost to each, their amount, the customers' main reasons, how satisfied those
customers are with the competitor now, and how many came back. Aggregated in the database.

Satisfaction is read the way the pipeline's requalification rule reads it (`app.pipeline.scoring`): the
number answered to the question marked with the "vendor satisfaction" signal, in a complete response; a
rating at or below the rule's `low_satisfaction_max` is "unhappy". A deal answered more than once (on the web
and by phone) counts once, with its latest rating.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import aliased

from app.codebook.models import ReasonCode
from app.codebook.themes import theme_of, themes_by_code
from app.coding.models import OpportunityReason
from app.crm.models import Account, Competitor, Opportunity
from app.extensions import db
from app.money.service import DEFAULT_CURRENCY, NotConverted, as_money, reporting_currency, sql_conversion
from app.pipeline.models import Requalification
from app.pipeline.recovered import accepted_requalification, won_back
from app.pipeline.scoring import default_rule
from app.reports.aggregates import GroupMoney, in_band
from app.reports.filters import ReportFilters, deal_scope, lost_opportunities, room_for_aggregates
from app.reports.loss_reasons import Deal
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


def _with_ratings(query, ratings):
    return query if ratings is None else query.outerjoin(ratings, ratings.c.opportunity_id == Opportunity.id)


def _comebacks():
    """Per deal with a requalification: 1 if one was accepted, 1 if one accepted came back won (else 0).

    Read from the requalifications (a few per thousand deals), the recycled deal looked up by its key
    only for the accepted ones.
    """
    recycled = aliased(Opportunity)
    won = (
        select(recycled.id)
        .where(recycled.id == Requalification.recycled_opportunity_id, won_back(recycled))
        .exists()
    )
    return (
        select(
            Requalification.opportunity_id.label("opportunity_id"),
            func.max(case((accepted_requalification(), 1), else_=0)).label("accepted"),
            func.max(case((won, 1), else_=0)).label("won"),
        )
        .group_by(Requalification.opportunity_id)
        .subquery()
    )


def competitors_report(filters: ReportFilters) -> CompetitorsReport:
    """Two aggregates over the lost deals the filters keep (`deal_scope`: the accounts joined only when a
    filter needs them): deals, money, latest ratings and comebacks per competitor in one pass; then the
    deals per competitor and reason, the top reasons picked here."""
    quote = reporting_currency()
    room_for_aggregates()
    unhappy_max = default_rule().low_satisfaction_max
    scope = deal_scope(filters, quote)
    # Deals, money, latest ratings and comebacks in one pass, grouped by plain columns (a handful of groups,
    # hashed): per competitor, currency, with an amount or not and with a rate or not; the converted amount
    # summed as it goes. Ratings and comebacks are one row per deal at most (joined by the deal's key).
    no_amount = Opportunity.amount.is_(None).label("no_amount")
    no_rate = scope.conversion.rate.rate.is_(None).label("no_rate")
    comebacks = _comebacks()
    figures_sql = [
        func.count(comebacks.c.opportunity_id),
        func.coalesce(func.sum(comebacks.c.accepted), 0),
        func.coalesce(func.sum(comebacks.c.won), 0),
    ]
    # Without a question asking for it no deal has a rating: the ratings (a pass over the surveys' answers,
    # which SQLite makes response by response) are then not looked for.
    asked = db.session.scalar(
        select(Question.id).where(Question.signal == Signal.VENDOR_SATISFACTION).limit(1)
    )
    ratings = latest_ratings() if asked is not None else None
    if ratings is not None:
        figures_sql = [
            func.count(ratings.c.rating),
            func.coalesce(func.sum(ratings.c.rating), 0),
            func.count(ratings.c.rating).filter(ratings.c.rating <= unhappy_max),
            *figures_sql,
        ]
    deals_per_competitor: dict[int | None, int] = {}
    money: dict[int, GroupMoney] = {}
    apart_per_competitor: dict[int, dict[str, list]] = {}
    per_competitor: dict[int, list[int]] = {}  # rated, rating sum, unhappy, requalified, accepted, won
    for (
        competitor_id,
        raw_currency,
        without_amount,
        without_rate,
        count,
        amount,
        converted,
        *figures,
    ) in db.session.execute(
        _with_ratings(
            scope.select(
                Opportunity.competitor_id,
                Opportunity.currency,
                no_amount,
                no_rate,
                func.count(),
                func.sum(Opportunity.amount),
                func.sum(scope.converted),
                *figures_sql,
            ),
            ratings,
        )
        .outerjoin(comebacks, comebacks.c.opportunity_id == Opportunity.id)
        .group_by(Opportunity.competitor_id, Opportunity.currency, no_amount, no_rate)
    ):
        deals_per_competitor[competitor_id] = deals_per_competitor.get(competitor_id, 0) + count
        if competitor_id is None:
            continue
        sums = per_competitor.setdefault(competitor_id, [0] * 6)
        for position, value in enumerate(figures, start=6 - len(figures)):
            sums[position] += int(value or 0)
        if without_amount:
            continue
        currency = raw_currency or DEFAULT_CURRENCY
        group = money.setdefault(competitor_id, GroupMoney())
        if without_rate and currency != quote:  # not converted: counted apart
            entry = apart_per_competitor.setdefault(competitor_id, {}).setdefault(currency, [Decimal(0), 0])
            entry[0] += as_money(amount)
            entry[1] += count
        else:
            group.total += as_money(converted)
            group.converted_deals += count
    for competitor_id, currencies in apart_per_competitor.items():
        money[competitor_id].not_converted = [
            NotConverted(c, a, n) for c, (a, n) in sorted(currencies.items())
        ]
    without = deals_per_competitor.pop(None, 0)
    lost = without + sum(deals_per_competitor.values())
    rows: dict[int, CompetitorRow] = {
        competitor_id: CompetitorRow(competitor_id, name, deals_per_competitor[competitor_id])
        for competitor_id, name in db.session.execute(
            select(Competitor.id, Competitor.name).where(Competitor.id.in_(list(deals_per_competitor)))
        )
    }
    for competitor_id, group in money.items():
        rows[competitor_id].money = group
    for competitor_id, (rated, rating_sum, unhappy, requalified, accepted, won) in per_competitor.items():
        row = rows[competitor_id]
        row.rated, row.unhappy = rated, unhappy
        row.average_rating = rating_sum / rated if rated else None
        row.requalified, row.accepted, row.won = requalified, accepted, won
    with_competitor = Opportunity.competitor_id.is_not(None)
    # Deals per competitor and reason theme (themes_by_code: a deal that gave a theme and a finer code of it
    # counts once, by its first reason of the theme), a few hundred groups; the top themes of each are
    # picked here, by deals then code.
    themes = themes_by_code()
    theme = theme_of(OpportunityReason.reason_code_id, themes)
    per_reason = db.session.execute(
        scope.select(Opportunity.competitor_id, theme, func.count(), rates=False)
        .join(
            OpportunityReason,
            and_(
                OpportunityReason.opportunity_id == Opportunity.id, OpportunityReason.first_in_theme.is_(True)
            ),
        )
        .where(with_competitor)
        .group_by(Opportunity.competitor_id, theme)
    ).all()
    by_id = {found.id: found for found in themes.values()}
    reasons: dict[int, list[ReasonCount]] = {}
    for competitor_id, theme_id, deals in per_reason:
        found = by_id[theme_id]
        reasons.setdefault(competitor_id, []).append(ReasonCount(found.id, found.code, found.label, deals))
    for competitor_id, counted in reasons.items():
        rows[competitor_id].reasons = sorted(counted, key=lambda reason: (-reason.deals, reason.code))[
            :TOP_REASONS
        ]
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
class CompetitorDeal(Deal):
    """A lost deal of the loss-reason drill-down, with what the customer said and whether it came back."""

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
            won_back(recycled),
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
        was_won_back,
        requalified_at,
    ) in rows:
        came_back = None
        if status is not None:
            came_back = "won" if was_won_back else str(status)
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
