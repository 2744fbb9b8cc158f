"""The recovery funnel, per campaign and overall, aggregated in the database.

enrolled → reached (a call connected or a survey opened) → responded → requalified → accepted by sales → won.
What "reached" and "responded" mean is written once, in app.reports.outcomes.

The first three steps count the enrollments made in the period, each once whatever the channel that reached
it. The last three count the requalifications that came out of those enrollments (same campaign, same lost
deal), each once even when several contacts of the deal were enrolled. Recovered revenue is the amount of the
won recycled opportunities; the open recycled pipeline is what sales accepted and has not won or lost yet.
Both convert with the rate of the recycled deal's close month; amounts without a rate are counted apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.orm import aliased

from app.crm.models import Account, Opportunity
from app.extensions import db
from app.messaging.channels import Channel
from app.money.service import DEFAULT_CURRENCY, NotConverted, reporting_currency, sql_conversion
from app.pipeline.models import Requalification
from app.pipeline.recovered import accepted_requalification, in_open_pipeline, recovered_money, won_back
from app.reports.aggregates import GroupMoney, counts_and_medians, days_between, money_by
from app.reports.filters import room_for_aggregates
from app.reports.outcomes import (
    call_connected,
    call_responded,
    reached_at,
    responded_at,
    survey_reached,
    survey_responded,
)
from app.validation import parse_id
from campaigns.calls.models import CallAttempt, CallTask
from campaigns.models import Campaign, Enrollment
from surveys.models import Invitation

# (key, label, what the time before it is measured from)
STEPS = (
    ("enrolled", "Enrolled", None),
    ("reached", "Reached", "enrollment"),
    ("responded", "Responded", "first reach"),
    ("requalified", "Requalified", "response (or connected call)"),
    ("accepted", "Accepted by sales", "requalification"),
    ("won", "Won", "acceptance"),
)
STEP_KEYS = tuple(key for key, *_ in STEPS)
STEP_LABELS = {key: label for key, label, _ in STEPS}
OPEN_PIPELINE = "open"  # the drill-down of the open recycled pipeline
DRILL_STEPS = (*STEP_KEYS, OPEN_PIPELINE)
DRILL_LIMIT = 500


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00 UTC, the day after end 00:00 UTC)."""
    return datetime.combine(start, time(), UTC), datetime.combine(end + timedelta(days=1), time(), UTC)


@dataclass
class FunnelRow:
    label: str
    campaign_id: int | None = None
    enrolled: int = 0
    reached: int = 0
    responded: int = 0
    requalified: int = 0
    accepted: int = 0
    won: int = 0
    median_days: dict[str, float] = field(default_factory=dict)  # step → median days since the step before
    recovered: GroupMoney = field(default_factory=GroupMoney)
    open_deals: int = 0
    open_pipeline: GroupMoney = field(default_factory=GroupMoney)

    def rate(self, step: str) -> float:
        """The share of the enrolled who got to this step."""
        return getattr(self, step) / self.enrolled if self.enrolled else 0.0

    def conversion(self, step: str) -> float | None:
        """The share of the step before that went on to this one (None for the first step)."""
        index = STEP_KEYS.index(step)
        if index == 0:
            return None
        before = getattr(self, STEP_KEYS[index - 1])
        return getattr(self, step) / before if before else 0.0

    def count(self, step: str) -> int:
        return getattr(self, step)


@dataclass
class ChannelRow:
    channel: str
    contacted: int = 0  # invitations sent, or tasks with at least one call
    reached: int = 0  # opened, or connected
    responded: int = 0

    @property
    def response_rate(self) -> float:
        return self.responded / self.contacted if self.contacted else 0.0


@dataclass
class FunnelReport:
    start: date
    end: date
    overall: FunnelRow
    campaigns: list[FunnelRow]
    channels: list[ChannelRow]
    currency: str = DEFAULT_CURRENCY
    campaign_id: int | None = None


def _enrollments(start: date, end: date, campaign_id: int | None, *, requalified_only: bool = False):
    """One row per enrollment of the period: when it was reached and when it responded (NULL: not yet).

    requalified_only: only the enrollments a requalification came out of (same campaign and deal), all
    that _requalifications needs; its calls are then aggregated for those few, not for every enrollment.
    """
    since, until = day_bounds(start, end)
    in_period = and_(Enrollment.enrolled_at >= since, Enrollment.enrolled_at < until)
    if campaign_id is not None:
        in_period = and_(in_period, Enrollment.campaign_id == campaign_id)
    if requalified_only:
        in_period = and_(
            in_period,
            select(Requalification.id)
            .where(
                Requalification.campaign_id == Enrollment.campaign_id,
                Requalification.opportunity_id == Enrollment.opportunity_id,
            )
            .exists(),
        )
    calls = (
        select(
            CallTask.enrollment_id.label("enrollment_id"),
            func.count(CallAttempt.id).label("calls"),
            func.min(func.coalesce(CallAttempt.answered_at, CallAttempt.started_at))
            .filter(call_connected())
            .label("connected_at"),
            func.min(func.coalesce(CallAttempt.answered_at, CallAttempt.started_at))
            .filter(call_responded())
            .label("phoned_at"),
        )
        .join(CallAttempt, CallAttempt.task_id == CallTask.id)
        .join(Enrollment, Enrollment.id == CallTask.enrollment_id)
        .where(in_period)
        .group_by(CallTask.enrollment_id)
        .subquery()
    )
    return (
        select(
            Enrollment.id.label("enrollment_id"),
            Enrollment.campaign_id,
            Enrollment.opportunity_id,
            Enrollment.enrolled_at,
            Invitation.channel.label("channel"),
            Invitation.sent_at,
            Invitation.opened_at,
            Invitation.completed_at,
            func.coalesce(calls.c.calls, 0).label("calls"),
            calls.c.connected_at,
            calls.c.phoned_at,
            reached_at(calls.c.connected_at, Invitation.opened_at, Invitation.completed_at).label(
                "reached_at"
            ),
            responded_at(calls.c.phoned_at, Invitation.completed_at).label("responded_at"),
        )
        .outerjoin(Invitation, Invitation.id == Enrollment.invitation_id)
        .outerjoin(calls, calls.c.enrollment_id == Enrollment.id)
        .where(in_period)
        .subquery()
    )


def _requalifications(enrollments):
    """One row per requalification that came out of the period's enrollments (same campaign and deal)."""
    cohort = (
        select(
            enrollments.c.campaign_id,
            enrollments.c.opportunity_id,
            # From the first response; a deal requalified on a call without one, from the connected call.
            func.coalesce(func.min(enrollments.c.responded_at), func.min(enrollments.c.reached_at)).label(
                "answered_at"
            ),
        )
        .group_by(enrollments.c.campaign_id, enrollments.c.opportunity_id)
        .subquery()
    )
    recycled = aliased(Opportunity)
    original = aliased(Opportunity)
    won_amount, won_currency, won_close = recovered_money(recycled)
    return (
        select(
            Requalification.id.label("requalification_id"),
            Requalification.campaign_id,
            Requalification.opportunity_id,
            cohort.c.answered_at,
            Requalification.created_at,
            Requalification.decided_at,
            accepted_requalification().label("accepted"),
            won_back(recycled).label("won"),
            in_open_pipeline(recycled).label("open"),
            recycled.close_date.label("won_on"),
            # Won: what it recovered (recovered_money). Open: the recycled deal's amount once the CRM has
            # it, the amount sales expected until then.
            case(
                (won_back(recycled), won_amount),
                else_=func.coalesce(recycled.amount, Requalification.expected_amount, original.amount),
            ).label("amount"),
            case(
                (won_back(recycled), won_currency), else_=func.coalesce(recycled.currency, original.currency)
            ).label("currency"),
            case(
                (won_back(recycled), won_close),
                else_=func.coalesce(recycled.close_date, Requalification.next_step_date),
            ).label("close_date"),
        )
        .join(
            cohort,
            and_(
                cohort.c.campaign_id == Requalification.campaign_id,
                cohort.c.opportunity_id == Requalification.opportunity_id,
            ),
        )
        .outerjoin(recycled, recycled.id == Requalification.recycled_opportunity_id)
        .outerjoin(original, original.id == Requalification.opportunity_id)
        .subquery()
    )


def _combined(groups: list[GroupMoney]) -> GroupMoney:
    """The money of several groups together (a handful of campaigns, never one row per deal)."""
    total = GroupMoney()
    apart: dict[str, list] = {}
    for group in groups:
        total.total += group.total
        total.converted_deals += group.converted_deals
        for item in group.not_converted:
            entry = apart.setdefault(item.currency, [Decimal(0), 0])
            entry[0] += item.amount
            entry[1] += item.deals
    total.not_converted = [NotConverted(c, a, n) for c, (a, n) in sorted(apart.items())]
    return total


CHANNELS = (Channel.EMAIL.value, Channel.SMS.value, "phone")


def _enrollment_counts() -> dict:
    """The counts of the enrollment steps and of each channel, as functions of the facts' columns."""
    counts = {
        "enrolled": lambda c: func.count(),
        "reached": lambda c: func.count(c.reached_at),
        "responded": lambda c: func.count(c.responded_at),
        "phone_contacted": lambda c: func.count().filter(c.calls > 0),
        "phone_reached": lambda c: func.count().filter(c.calls > 0, c.connected_at.is_not(None)),
        "phone_responded": lambda c: func.count().filter(c.calls > 0, c.phoned_at.is_not(None)),
    }
    for channel in (Channel.EMAIL, Channel.SMS):
        name = channel.value

        def sent(c, channel=channel):
            return and_(c.channel == channel, c.sent_at.is_not(None))

        counts[f"{name}_contacted"] = lambda c, sent=sent: func.count().filter(sent(c))
        counts[f"{name}_reached"] = lambda c, sent=sent: func.count().filter(
            sent(c), survey_reached(c.opened_at, c.completed_at)
        )
        counts[f"{name}_responded"] = lambda c, sent=sent: func.count().filter(
            sent(c), survey_responded(c.completed_at)
        )
    return counts


REQUALIFICATION_COUNTS = {
    "requalified": lambda c: func.count(),
    "accepted": lambda c: func.count().filter(c.accepted),
    "won": lambda c: func.count().filter(c.won),
    "open_deals": lambda c: func.count().filter(c.open),
}


def _fill(row: FunnelRow, figures: dict) -> None:
    for name in (*STEP_KEYS, "open_deals"):
        if name in figures:
            setattr(row, name, figures[name])
    for step in STEP_KEYS[1:]:
        if f"median_days_{step}" in figures:
            row.median_days[step] = figures[f"median_days_{step}"]


def funnel_report(start: date, end: date, *, campaign_id: int | None = None) -> FunnelReport:
    """The funnel of the enrollments made in the period (one campaign's, or every campaign's).

    Three queries whatever the number of enrollments: the enrollment steps, channels and their medians;
    the requalification steps and their medians; the recovered and open money.
    """
    quote = reporting_currency()
    room_for_aggregates()  # the medians sort every enrollment of the period
    enrollments = _enrollments(start, end, campaign_id)
    requalifications = _requalifications(_enrollments(start, end, campaign_id, requalified_only=True))
    e_facts, r_facts = _facts(enrollments, requalifications)
    per_campaign, overall_figures = counts_and_medians(
        e_facts, "campaign_id", _enrollment_counts(), ("days_reached", "days_responded")
    )
    r_per_campaign, r_overall = counts_and_medians(
        r_facts, "campaign_id", REQUALIFICATION_COUNTS, ("days_requalified", "days_accepted", "days_won")
    )
    names = dict(
        db.session.execute(
            select(Campaign.id, Campaign.name).where(Campaign.id.in_(list(per_campaign)))
        ).all()
    )
    rows: dict[int, FunnelRow] = {}
    for campaign, figures in per_campaign.items():
        row = rows[campaign] = FunnelRow(names[campaign], campaign)
        _fill(row, figures)
        _fill(row, r_per_campaign.get(campaign, {}))
    r = requalifications.c
    money = money_by(
        select(
            r.campaign_id.label("key"),
            case((r.won, literal("won")), else_=literal("open")).label("kind"),
            r.amount,
            r.currency,
            r.close_date,
        ).where(or_(r.won, r.open)),
        keys=("key", "kind"),
        quote=quote,
    )
    for (campaign, kind), group in money.items():
        if kind == "won":
            rows[campaign].recovered = group
        else:
            rows[campaign].open_pipeline = group
    overall = FunnelRow("All campaigns")
    _fill(overall, overall_figures)
    _fill(overall, r_overall)
    overall.recovered = _combined([row.recovered for row in rows.values()])
    overall.open_pipeline = _combined([row.open_pipeline for row in rows.values()])
    channels = [
        ChannelRow(
            name,
            overall_figures.get(f"{name}_contacted", 0),
            overall_figures.get(f"{name}_reached", 0),
            overall_figures.get(f"{name}_responded", 0),
        )
        for name in CHANNELS
    ]
    return FunnelReport(
        start=start,
        end=end,
        overall=overall,
        campaigns=sorted(rows.values(), key=lambda r: (r.label, r.campaign_id)),
        channels=channels,
        currency=quote,
        campaign_id=campaign_id,
    )


def _facts(enrollments, requalifications):
    """One row per enrollment and one per requalification, with the days since the step before (NULL: the
    step was not reached), for counts_and_medians."""
    e, r = enrollments.c, requalifications.c
    per_enrollment = select(
        e.campaign_id,
        e.reached_at,
        e.responded_at,
        e.channel,
        e.sent_at,
        e.opened_at,
        e.completed_at,
        e.calls,
        e.connected_at,
        e.phoned_at,
        days_between(e.enrolled_at, e.reached_at).label("days_reached"),
        days_between(e.reached_at, e.responded_at).label("days_responded"),
    )
    per_requalification = select(
        r.campaign_id,
        r.accepted,
        r.won,
        r.open,
        days_between(r.answered_at, r.created_at).label("days_requalified"),
        case((r.accepted, days_between(r.created_at, r.decided_at))).label("days_accepted"),
        case((r.won, days_between(r.decided_at, r.won_on))).label("days_won"),
    )
    return per_enrollment, per_requalification


@dataclass(frozen=True)
class StepDeal:
    opportunity_id: int
    name: str
    account_name: str
    owner: str | None
    campaign: str
    when: datetime | date | None  # when the deal got to the step
    amount: Decimal | None
    currency: str
    converted: Decimal | None


def step_deals(step: str, start: date, end: date, *, campaign_id: int | None = None) -> list[StepDeal]:
    """The lost deals behind one step of the funnel (the recycled amount for won and open), newest first."""
    if step not in DRILL_STEPS:
        raise ValueError(step)
    quote = reporting_currency()
    enrollments = _enrollments(start, end, campaign_id)
    if step in ("enrolled", "reached", "responded"):
        e = enrollments.c
        when = {"enrolled": e.enrolled_at, "reached": e.reached_at, "responded": e.responded_at}[step]
        source = (
            select(
                e.opportunity_id,
                e.campaign_id,
                when.label("when"),
                Opportunity.amount,
                Opportunity.currency,
                Opportunity.close_date,
            )
            .join(Opportunity, Opportunity.id == e.opportunity_id)
            .where(when.is_not(None))
        )
    else:
        r = _requalifications(_enrollments(start, end, campaign_id, requalified_only=True)).c
        when, condition = {
            "requalified": (r.created_at, literal(True)),
            "accepted": (r.decided_at, r.accepted),
            "won": (r.won_on, r.won),
            OPEN_PIPELINE: (r.decided_at, r.open),
        }[step]
        original = aliased(Opportunity)
        money_of = (r.amount, r.currency, r.close_date)
        if step in ("requalified", "accepted"):
            money_of = (original.amount, original.currency, original.close_date)
        source = (
            select(
                r.opportunity_id,
                r.campaign_id,
                when.label("when"),
                money_of[0].label("amount"),
                money_of[1].label("currency"),
                money_of[2].label("close_date"),
            )
            .join(original, original.id == r.opportunity_id)
            .where(condition)
        )
    rows = source.subquery()
    conversion = sql_conversion(rows.c.amount, rows.c.currency, rows.c.close_date, quote=quote)
    query = (
        select(
            Opportunity.id,
            Opportunity.name,
            Account.name,
            Opportunity.owner,
            Campaign.name,
            rows.c.when,
            rows.c.amount,
            conversion.currency.label("currency"),
            conversion.amount.label("converted"),
        )
        .select_from(rows)
        .join(Opportunity, Opportunity.id == rows.c.opportunity_id)
        .join(Account, Account.id == Opportunity.account_id)
        .join(Campaign, Campaign.id == rows.c.campaign_id)
        .outerjoin(conversion.rate, conversion.onclause)
        .order_by(rows.c.when.desc(), Opportunity.id)
        .limit(DRILL_LIMIT)
    )
    return [
        StepDeal(
            *row[:6],
            None if row.amount is None else Decimal(str(row.amount)),
            row.currency,
            None if row.converted is None else Decimal(str(row.converted)).quantize(Decimal("0.01")),
        )
        for row in db.session.execute(query)
    ]


def campaign_choices() -> list[tuple[int, str]]:
    return list(db.session.execute(select(Campaign.id, Campaign.name).order_by(Campaign.name, Campaign.id)))


def parse_campaign(args, errors: list[str]) -> int | None:
    """The campaign of the URL (None: every campaign); a value that is not a known campaign is explained."""
    raw = (args.get("campaign") or "").strip()
    if not raw:
        return None
    campaign_id = parse_id(raw)
    if campaign_id is not None and db.session.get(Campaign, campaign_id) is not None:
        return campaign_id
    errors.append("That campaign is not known; every campaign is shown.")
    return None
