"""Why deals were lost, as customers said it: confirmed customer-stated reasons, each opportunity once."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import func, or_, select

from app.codebook.models import ReasonCode
from app.coding.models import Coding, CodingStatus, OpportunityReason
from app.crm.models import Opportunity
from app.extensions import db
from app.money.service import NotConverted, Rates
from app.reports.filters import ReportFilters, lost_opportunities, month_starts
from surveys.models import Answer, Option, Question, Response

TREND_REASONS = 3  # the reasons that get a column of their own in the trend


@dataclass(frozen=True)
class Deal:
    id: int
    name: str
    account_name: str
    owner: str | None
    close_date: date | None
    amount: Decimal | None
    currency: str
    converted: Decimal | None  # in the reporting currency; None: no rate for its close month
    crm_loss_reason: str | None


@dataclass
class ReasonBar:
    code_id: int
    code: str
    label: str
    deals: int = 0
    amount: Decimal = Decimal(0)  # converted deals only

    def value(self, weight: str) -> Decimal | int:
        return self.amount if weight == "amount" else self.deals


@dataclass(frozen=True)
class TrendRow:
    month: date
    deals: int
    amount: Decimal
    by_reason: tuple[int, ...]  # deals per TREND_REASONS reason, in the order of trend_reasons


@dataclass
class LossReasonsReport:
    filters: ReportFilters
    currency: str
    lost_deals: int  # every lost deal the filters keep, with or without a customer-stated reason
    deals_with_reasons: int
    amount: Decimal  # converted amount of the deals with reasons
    bars: list[ReasonBar]
    not_converted: list[NotConverted]
    trend: list[TrendRow]
    trend_reasons: list[ReasonBar] = field(default_factory=list)

    @property
    def max_value(self):
        return max((bar.value(self.filters.weight) for bar in self.bars), default=0)


def _in_band(filters: ReportFilters, converted: Decimal | None) -> bool:
    bounds = filters.band_bounds()
    if bounds is None:
        return True
    if converted is None:  # no rate: its band is unknown
        return False
    low, high = bounds
    return converted >= low and (high is None or converted < high)


def load_deals(filters: ReportFilters, rates: Rates) -> dict[int, Deal]:
    deals = {}
    for row in db.session.execute(lost_opportunities(filters)):
        converted = rates.convert(row.amount, row.currency, row.close_date)
        if not _in_band(filters, converted):
            continue
        deals[row.id] = Deal(
            id=row.id,
            name=row.name,
            account_name=row.account_name,
            owner=row.owner,
            close_date=row.close_date,
            amount=row.amount,
            currency=row.currency or "USD",
            converted=converted,
            crm_loss_reason=row.crm_loss_reason,
        )
    return deals


def _reasons_of(filters: ReportFilters) -> list[tuple[int, int, str, str]]:
    """(opportunity id, code id, code, label) of each customer-stated reason of the deals the filters keep."""
    kept = lost_opportunities(filters).with_only_columns(Opportunity.id)
    return [
        tuple(row)
        for row in db.session.execute(
            select(OpportunityReason.opportunity_id, ReasonCode.id, ReasonCode.code, ReasonCode.label)
            .join(ReasonCode, ReasonCode.id == OpportunityReason.reason_code_id)
            .where(OpportunityReason.opportunity_id.in_(kept.scalar_subquery()))
        )
    ]


def loss_reasons_report(filters: ReportFilters, *, rates: Rates | None = None) -> LossReasonsReport:
    rates = rates or Rates.load()
    deals = load_deals(filters, rates)
    bars: dict[int, ReasonBar] = {}
    with_reasons: set[int] = set()
    per_opportunity: dict[int, set[int]] = defaultdict(set)
    for opportunity_id, code_id, code, label in _reasons_of(filters):
        deal = deals.get(opportunity_id)
        if deal is None or code_id in per_opportunity[opportunity_id]:
            continue
        per_opportunity[opportunity_id].add(code_id)
        bar = bars.setdefault(code_id, ReasonBar(code_id, code, label))
        bar.deals += 1
        if deal.converted is not None:
            bar.amount += deal.converted
        with_reasons.add(opportunity_id)
    weight = filters.weight
    ordered = sorted(bars.values(), key=lambda bar: (-bar.value(weight), bar.code))
    not_converted: dict[str, list] = {}
    amount = Decimal(0)
    for opportunity_id in with_reasons:
        deal = deals[opportunity_id]
        if deal.converted is not None:
            amount += deal.converted
        elif deal.amount is not None:
            entry = not_converted.setdefault(deal.currency, [Decimal(0), 0])
            entry[0] += deal.amount
            entry[1] += 1
    top = ordered[:TREND_REASONS]
    months = month_starts(filters.start, filters.end)
    per_month: dict[date, list] = {month: [0, Decimal(0), [0] * len(top)] for month in months}
    for opportunity_id in with_reasons:
        deal = deals[opportunity_id]
        entry = per_month.get(deal.close_date.replace(day=1)) if deal.close_date else None
        if entry is None:
            continue
        entry[0] += 1
        entry[1] += deal.converted or 0
        for index, bar in enumerate(top):
            if bar.code_id in per_opportunity[opportunity_id]:
                entry[2][index] += 1
    trend = [TrendRow(month, d, a, tuple(r)) for month, (d, a, r) in per_month.items()]
    return LossReasonsReport(
        filters=filters,
        currency=rates.quote,
        lost_deals=len(deals),
        deals_with_reasons=len(with_reasons),
        amount=amount,
        bars=ordered,
        not_converted=[NotConverted(c, a, n) for c, (a, n) in sorted(not_converted.items())],
        trend=trend,
        trend_reasons=top,
    )


@dataclass(frozen=True)
class Verbatim:
    opportunity_id: int
    question: str
    text: str
    channel: str


@dataclass
class ReasonDrillDown:
    code: ReasonCode
    currency: str
    deals: list[Deal]
    verbatims: dict[int, list[Verbatim]]  # by opportunity


def reason_drill_down(
    filters: ReportFilters, code: ReasonCode, *, rates: Rates | None = None
) -> ReasonDrillDown:
    """The deals behind one bar, and the answers coded with its reason, word for word."""
    rates = rates or Rates.load()
    deals = load_deals(filters, rates)
    ids = sorted(
        {opportunity_id for opportunity_id, code_id, *_ in _reasons_of(filters) if code_id == code.id}
        & set(deals),
        key=lambda i: (deals[i].close_date or date.min, i),
        reverse=True,
    )
    verbatims: dict[int, list[Verbatim]] = defaultdict(list)
    if ids:
        coded = (
            select(Coding.answer_id)
            .where(Coding.reason_code_id == code.id, Coding.status == CodingStatus.CONFIRMED)
            .scalar_subquery()
        )
        # The answers coded with the reason, and the customer's own words in the same responses.
        rows = db.session.execute(
            select(
                Answer.question_id,
                Response.opportunity_id,
                Question.text,
                Answer.text,
                Answer.choices,
                Response.channel,
            )
            .join(Answer, Answer.response_id == Response.id)
            .join(Question, Question.id == Answer.question_id)
            .where(Response.opportunity_id.in_(ids), or_(Answer.id.in_(coded), func.length(Answer.text) > 0))
            .order_by(Response.opportunity_id, Response.id, Question.position)
        ).all()
        labels = {
            (question_id, value): label
            for question_id, value, label in db.session.execute(
                select(Option.question_id, Option.value, Option.label).where(
                    Option.question_id.in_({row[0] for row in rows})
                )
            )
        }
        for question_id, opportunity_id, question, text, choices, channel in rows:
            said = text or ", ".join(labels.get((question_id, str(c)), str(c)) for c in choices or [])
            verbatims[opportunity_id].append(Verbatim(opportunity_id, question, said, str(channel)))
    return ReasonDrillDown(
        code=code, currency=rates.quote, deals=[deals[i] for i in ids], verbatims=verbatims
    )
