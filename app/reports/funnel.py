"""The recovery funnel, per campaign and overall, aggregated in the database.

enrolled → reached (a call connected or a survey opened) → responded → requalified → accepted by sales → won.

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

from sqlalchemy import and_, func, literal, or_, select, union_all
from sqlalchemy.orm import aliased

from app.crm.models import Account, Channel, Opportunity
from app.extensions import db
from app.money.service import DEFAULT_CURRENCY, NotConverted, reporting_currency, sql_conversion
from app.pipeline.models import Requalification, RequalificationStatus
from app.reports.aggregates import GroupMoney, days_between, earliest, medians, money_by
from campaigns.calls.models import CallAttempt, CallTask, Disposition
from campaigns.models import Campaign, Enrollment
from surveys.models import Invitation

# The dispositions that mean someone picked up and spoke with the caller.
CONNECTED = frozenset(
    {
        Disposition.CALLBACK,
        Disposition.NOT_INTERESTED,
        Disposition.COMPLETED,
        Disposition.DO_NOT_CALL,
        Disposition.REQUALIFIED,
    }
)

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


def _connected():
    return or_(CallAttempt.answered_at.is_not(None), CallAttempt.disposition.in_(CONNECTED))


def _enrollments(start: date, end: date, campaign_id: int | None):
    """One row per enrollment of the period: when it was reached and when it responded (NULL: not yet)."""
    since, until = day_bounds(start, end)
    in_period = and_(Enrollment.enrolled_at >= since, Enrollment.enrolled_at < until)
    if campaign_id is not None:
        in_period = and_(in_period, Enrollment.campaign_id == campaign_id)
    phone_answer = or_(CallAttempt.response_id.is_not(None), CallTask.response_id.is_not(None))
    calls = (
        select(
            CallTask.enrollment_id.label("enrollment_id"),
            func.count(CallAttempt.id).label("calls"),
            func.min(func.coalesce(CallAttempt.answered_at, CallAttempt.started_at))
            .filter(_connected())
            .label("connected_at"),
            func.min(CallAttempt.started_at).filter(phone_answer).label("phoned_at"),
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
            earliest(calls.c.connected_at, Invitation.opened_at, Invitation.completed_at).label("reached_at"),
            earliest(calls.c.phoned_at, Invitation.completed_at).label("responded_at"),
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
    accepted = Requalification.status == RequalificationStatus.ACCEPTED
    won = and_(accepted, recycled.is_won.is_(True))
    return (
        select(
            Requalification.id.label("requalification_id"),
            Requalification.campaign_id,
            Requalification.opportunity_id,
            cohort.c.answered_at,
            Requalification.created_at,
            Requalification.decided_at,
            accepted.label("accepted"),
            won.label("won"),
            and_(accepted, func.coalesce(recycled.is_closed, False).is_(False)).label("open"),
            recycled.close_date.label("won_on"),
            # The recycled deal's amount once the CRM has it, the amount sales expected until then.
            func.coalesce(recycled.amount, Requalification.expected_amount, original.amount).label("amount"),
            func.coalesce(recycled.currency, original.currency).label("currency"),
            func.coalesce(recycled.close_date, Requalification.next_step_date).label("close_date"),
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


def funnel_report(start: date, end: date, *, campaign_id: int | None = None) -> FunnelReport:
    """The funnel of the enrollments made in the period (one campaign's, or every campaign's)."""
    quote = reporting_currency()
    enrollments = _enrollments(start, end, campaign_id)
    requalifications = _requalifications(enrollments)
    rows: dict[int, FunnelRow] = {}
    for campaign, name, enrolled, reached, responded in db.session.execute(
        select(
            enrollments.c.campaign_id,
            Campaign.name,
            func.count(),
            func.count(enrollments.c.reached_at),
            func.count(enrollments.c.responded_at),
        )
        .join(Campaign, Campaign.id == enrollments.c.campaign_id)
        .group_by(enrollments.c.campaign_id, Campaign.name)
    ):
        rows[campaign] = FunnelRow(name, campaign, enrolled, reached, responded)
    for campaign, requalified, accepted, won, open_deals in db.session.execute(
        select(
            requalifications.c.campaign_id,
            func.count(),
            func.count().filter(requalifications.c.accepted),
            func.count().filter(requalifications.c.won),
            func.count().filter(requalifications.c.open),
        ).group_by(requalifications.c.campaign_id)
    ):
        row = rows[campaign]
        row.requalified, row.accepted, row.won, row.open_deals = requalified, accepted, won, open_deals

    def money(condition):
        return money_by(
            select(
                requalifications.c.campaign_id.label("key"),
                requalifications.c.amount,
                requalifications.c.currency,
                requalifications.c.close_date,
            ).where(condition),
            quote=quote,
        )

    for campaign, group in money(requalifications.c.won).items():
        rows[campaign].recovered = group
    for campaign, group in money(requalifications.c.open).items():
        rows[campaign].open_pipeline = group

    durations = _durations(enrollments, requalifications)
    for (step, campaign), days in medians(durations, keys=("step", "campaign_id")).items():
        rows[campaign].median_days[step] = days
    overall = FunnelRow("All campaigns")
    for row in rows.values():
        for step in (*STEP_KEYS, "open_deals"):
            setattr(overall, step, getattr(overall, step) + getattr(row, step))
    overall.recovered = _combined([row.recovered for row in rows.values()])
    overall.open_pipeline = _combined([row.open_pipeline for row in rows.values()])
    overall.median_days = {step: days for (step,), days in medians(durations, keys=("step",)).items()}
    return FunnelReport(
        start=start,
        end=end,
        overall=overall,
        campaigns=sorted(rows.values(), key=lambda r: (r.label, r.campaign_id)),
        channels=_channels(enrollments),
        currency=quote,
        campaign_id=campaign_id,
    )


def _durations(enrollments, requalifications):
    """(step, campaign_id, days since the step before) of each enrollment and requalification there."""
    e, r = enrollments.c, requalifications.c
    parts = union_all(
        select(
            literal("reached").label("step"),
            e.campaign_id,
            days_between(e.enrolled_at, e.reached_at).label("days"),
        ),
        select(literal("responded"), e.campaign_id, days_between(e.reached_at, e.responded_at)),
        select(literal("requalified"), r.campaign_id, days_between(r.answered_at, r.created_at)),
        select(literal("accepted"), r.campaign_id, days_between(r.created_at, r.decided_at)).where(
            r.accepted
        ),
        select(literal("won"), r.campaign_id, days_between(r.decided_at, r.won_on)).where(r.won),
    ).subquery()
    return select(parts.c.step, parts.c.campaign_id, parts.c.days)


def _channels(enrollments) -> list[ChannelRow]:
    """Email, SMS and phone: contacted, reached and responded, each enrollment once per channel."""
    e = enrollments.c
    sent = e.sent_at.is_not(None)
    opened = or_(e.opened_at.is_not(None), e.completed_at.is_not(None))
    called = e.calls > 0
    invitations = db.session.execute(
        select(
            e.channel,
            func.count(),
            func.count().filter(opened),
            func.count().filter(e.completed_at.is_not(None)),
        )
        .where(sent)
        .group_by(e.channel)
    ).all()
    phone = db.session.execute(
        select(
            func.count(),
            func.count().filter(e.connected_at.is_not(None)),
            func.count().filter(e.phoned_at.is_not(None)),
        ).where(called)
    ).one()
    channels = {name: ChannelRow(name) for name in (Channel.EMAIL.value, Channel.SMS.value, "phone")}
    for channel, contacted, reached, responded in invitations:
        if str(channel) in channels:
            channels[str(channel)] = ChannelRow(str(channel), contacted, reached, responded)
    channels["phone"] = ChannelRow("phone", *phone)
    return list(channels.values())


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
        r = _requalifications(enrollments).c
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
    if raw.isdigit() and db.session.get(Campaign, int(raw)) is not None:
        return int(raw)
    errors.append("That campaign is not known; every campaign is shown.")
    return None
