"""Agreed targets and early warning: the month's pace against each target, the rates against their assumption.

Pace is the actual so far against the target prorated by the days elapsed (today counts): with a target of
40 on the 12th of a 30-day month the pace is 16, so 12 is "behind pace by 4". A metric falling behind its
pace, or a rate below its assumption, emails admins and sales managers once per month and metric.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from app.auth.models import Role, User
from app.crm.deals import DealFilter
from app.crm.models import Opportunity
from app.errors import ValidationError
from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.service import enqueue_message
from app.money.service import MoneyTotal, money_total_of, reporting_currency
from app.pipeline.models import Requalification, RequalificationStatus
from app.pipeline.recovered import accepted_requalification, recovered_deals, recycled_closed, won_back
from app.reports.models import FunnelTargets, TargetAlert
from app.templating import format_money
from surveys.models import Invitation

# Early in a month a pace means little: no pace alert before this many days have passed.
PACE_GRACE_DAYS = 7
# A rate on fewer cases than this is noise: it is shown but raises no alert.
MIN_RATE_SAMPLE = 10
ALERT_TEMPLATE = "reports.target_alert"

PACE_METRICS = {
    "requalified": "Requalified deals delivered to sales",
    "accepted": "Accepted by sales",
    "recovered_revenue": "Recovered revenue",
}
RATE_METRICS = {
    "response_rate": "Response rate",
    "acceptance_rate": "Acceptance rate",
    "win_rate": "Win rate of recycled deals",
}


# ------------------------------------------------------------------------------------------ settings


def funnel_targets() -> FunnelTargets | None:
    return db.session.get(FunnelTargets, 1)


def _percent(raw, *, field: str) -> Decimal:
    try:
        value = Decimal(str(raw).strip().rstrip("%").strip() or "0")
    except ArithmeticError:
        raise ValidationError("Enter the rate as a percentage, for example 25.", field=field) from None
    if not value.is_finite() or not 0 <= value <= 100:
        raise ValidationError("A rate is a percentage between 0 and 100.", field=field)
    return (value / 100).quantize(Decimal("0.0001"))


def set_funnel_targets(
    *,
    requalified: int,
    accepted: int,
    recovered_revenue: Decimal,
    response_rate: Decimal,
    acceptance_rate: Decimal,
    win_rate: Decimal,
    by: User | None,
    now: datetime,
) -> FunnelTargets:
    """Save the monthly targets (revenue in the reporting currency) and the assumed rates (percentages)."""
    for name, value in (("requalified", requalified), ("accepted", accepted)):
        if value is None or value < 0 or value > 1_000_000:
            raise ValidationError("A target is a whole number from 0 to 1,000,000.", field=name)
    if recovered_revenue is None or not recovered_revenue.is_finite() or not 0 <= recovered_revenue < 10**15:
        raise ValidationError("The revenue target is an amount of 0 or more.", field="recovered_revenue")
    targets = funnel_targets()
    if targets is None:
        targets = FunnelTargets(id=1)
        db.session.add(targets)
    targets.requalified_per_month = requalified
    targets.accepted_per_month = accepted
    targets.recovered_revenue_per_month = recovered_revenue.quantize(Decimal("0.01"))
    targets.currency = reporting_currency()
    targets.response_rate = _percent(response_rate, field="response_rate")
    targets.acceptance_rate = _percent(acceptance_rate, field="acceptance_rate")
    targets.win_rate = _percent(win_rate, field="win_rate")
    targets.updated_at = now
    targets.updated_by_id = by.id if by is not None else None
    db.session.flush()
    return targets


# ------------------------------------------------------------------------------------------- actuals


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return datetime.combine(start, time(), UTC), datetime.combine(end + timedelta(days=1), time(), UTC)


@dataclass(frozen=True)
class MonthActuals:
    requalified: int
    accepted: int
    decided: int  # accepted or rejected
    recovered: MoneyTotal
    recycled_closed: int
    recycled_won: int
    invitations_sent: int
    invitations_completed: int


def month_actuals(start: date, end: date) -> MonthActuals:
    """Requalified, accepted, recovered revenue and the three rates' counts from start to end (days)."""
    since, until = _bounds(start, end)
    in_period = (Requalification.created_at >= since) & (Requalification.created_at < until)
    decided_in_period = (Requalification.decided_at >= since) & (Requalification.decided_at < until)
    requalified, accepted, decided = db.session.execute(
        select(
            func.count(Requalification.id).filter(in_period),
            func.count(Requalification.id).filter(decided_in_period & accepted_requalification()),
            func.count(Requalification.id).filter(
                decided_in_period
                & Requalification.status.in_((RequalificationStatus.ACCEPTED, RequalificationStatus.REJECTED))
            ),
        )
    ).one()
    recycled = aliased(Opportunity)
    closed_in_period = DealFilter(start=start, end=end).apply(
        select(func.count(recycled.id), func.count(recycled.id).filter(won_back(recycled)))
        .select_from(Requalification)
        .join(recycled, recycled.id == Requalification.recycled_opportunity_id)
        .where(recycled_closed(recycled)),
        deal=recycled,
    )
    closed, won = db.session.execute(closed_in_period).one()
    sent, completed = db.session.execute(
        select(
            func.count(Invitation.id),
            func.count(Invitation.id).filter(Invitation.completed_at.is_not(None)),
        ).where(Invitation.sent_at >= since, Invitation.sent_at < until)
    ).one()
    return MonthActuals(
        requalified=requalified or 0,
        accepted=accepted or 0,
        decided=decided or 0,
        recovered=money_total_of(recovered_deals(start=start, end=end)),
        recycled_closed=closed or 0,
        recycled_won=won or 0,
        invitations_sent=sent or 0,
        invitations_completed=completed or 0,
    )


# ---------------------------------------------------------------------------------------------- pace


@dataclass(frozen=True)
class Pace:
    metric: str
    label: str
    actual: Decimal
    target: Decimal
    expected: Decimal  # the target prorated by the days elapsed
    currency: str | None = None  # set for money

    def show(self, value: Decimal) -> str:
        return format_money(value, self.currency) if self.currency else f"{value:,.0f}"

    @property
    def gap(self) -> Decimal:
        """How far behind the pace (positive) or ahead of it (negative)."""
        return self.expected - self.actual

    @property
    def behind(self) -> bool:
        return self.target > 0 and self.actual < self.expected

    @property
    def state(self) -> str:
        if self.target <= 0:
            return "no target"
        if self.gap > 0:
            return "behind"
        return "ahead" if self.gap < 0 else "on pace"

    @property
    def words(self) -> str:
        """ "12 of 40, behind pace by 4"."""
        head = f"{self.show(self.actual)} of {self.show(self.target)}"
        if self.target <= 0:
            return f"{self.show(self.actual)} (no target set)"
        if self.gap > 0:
            return f"{head}, behind pace by {self.show(self.gap)}"
        if self.gap < 0:
            return f"{head}, ahead of pace by {self.show(-self.gap)}"
        return f"{head}, on pace"


@dataclass(frozen=True)
class RateCheck:
    metric: str
    label: str
    numerator: int
    denominator: int
    assumed: Decimal  # a fraction

    @property
    def actual(self) -> Decimal | None:
        if not self.denominator:
            return None
        return Decimal(self.numerator) / Decimal(self.denominator)

    @property
    def points_below(self) -> int:
        actual = self.actual
        if actual is None:
            return 0
        gap = (self.assumed - actual) * 100
        return int(gap.quantize(Decimal(1), rounding=ROUND_HALF_UP))

    @property
    def below(self) -> bool:
        actual = self.actual
        return (
            self.assumed > 0
            and actual is not None
            and self.denominator >= MIN_RATE_SAMPLE
            and actual < self.assumed
        )

    @property
    def words(self) -> str:
        assumed = f"{self.assumed * 100:.0f}%"
        actual = self.actual
        if actual is None:
            return f"no case yet this month (assumed {assumed})"
        head = f"{actual * 100:.0f}% ({self.numerator} of {self.denominator}) against an assumed {assumed}"
        if self.assumed <= 0:
            return f"{actual * 100:.0f}% ({self.numerator} of {self.denominator}), no assumption set"
        if actual < self.assumed:
            tail = f"{self.points_below} point{'s' if self.points_below != 1 else ''} below"
            if self.denominator < MIN_RATE_SAMPLE:
                tail += f" (fewer than {MIN_RATE_SAMPLE} cases so far)"
            return f"{head}: {tail}"
        return f"{head}: at or above it"


@dataclass(frozen=True)
class TargetStatus:
    month: date
    day: int
    days_in_month: int
    targets: FunnelTargets | None
    paces: list[Pace]
    rates: list[RateCheck]
    recovered: MoneyTotal
    revenue_target_currency_differs: bool

    @property
    def month_label(self) -> str:
        return self.month.strftime("%B %Y")


def _prorate(target: Decimal, day: int, days: int, *, places: str) -> Decimal:
    return (target * day / days).quantize(Decimal(places), rounding=ROUND_HALF_UP)


def target_status(today: date) -> TargetStatus:
    """The month so far against its targets and assumed rates (zeros, never errors, without data)."""
    start = today.replace(day=1)
    days = calendar.monthrange(today.year, today.month)[1]
    targets = funnel_targets()
    actuals = month_actuals(start, today)
    quote = actuals.recovered.currency
    requalified_target = Decimal(targets.requalified_per_month if targets else 0)
    accepted_target = Decimal(targets.accepted_per_month if targets else 0)
    revenue_target = Decimal(targets.recovered_revenue_per_month if targets else 0)
    differs = targets is not None and targets.currency != quote
    if differs:
        revenue_target = Decimal(0)  # a target in another currency is not compared
    paces = [
        Pace(
            "requalified",
            PACE_METRICS["requalified"],
            Decimal(actuals.requalified),
            requalified_target,
            _prorate(requalified_target, today.day, days, places="1"),
        ),
        Pace(
            "accepted",
            PACE_METRICS["accepted"],
            Decimal(actuals.accepted),
            accepted_target,
            _prorate(accepted_target, today.day, days, places="1"),
        ),
        Pace(
            "recovered_revenue",
            PACE_METRICS["recovered_revenue"],
            actuals.recovered.total,
            revenue_target,
            _prorate(revenue_target, today.day, days, places="0.01"),
            currency=quote,
        ),
    ]

    def assumed(name: str) -> Decimal:
        return Decimal(getattr(targets, name)) if targets else Decimal(0)

    rates = [
        RateCheck(
            "response_rate",
            RATE_METRICS["response_rate"],
            actuals.invitations_completed,
            actuals.invitations_sent,
            assumed("response_rate"),
        ),
        RateCheck(
            "acceptance_rate",
            RATE_METRICS["acceptance_rate"],
            actuals.accepted,
            actuals.decided,
            assumed("acceptance_rate"),
        ),
        RateCheck(
            "win_rate",
            RATE_METRICS["win_rate"],
            actuals.recycled_won,
            actuals.recycled_closed,
            assumed("win_rate"),
        ),
    ]
    return TargetStatus(start, today.day, days, targets, paces, rates, actuals.recovered, differs)


# ------------------------------------------------------------------------------------- early warning


def _alerts_due(status: TargetStatus) -> list[tuple[str, str]]:
    """(metric, sentence) for each pace behind (after the grace days) and each rate below its assumption."""
    due = []
    if status.day >= PACE_GRACE_DAYS:
        for pace in status.paces:
            if pace.behind:
                due.append(
                    (
                        pace.metric,
                        f"{pace.label}: {pace.words} (pace on day {status.day}: {pace.show(pace.expected)}).",
                    )
                )
    for rate in status.rates:
        if rate.below:
            due.append((rate.metric, f"{rate.label}: {rate.words}."))
    return due


def send_target_alerts(*, now: datetime, dashboard_url: str) -> int:
    """Email admins and sales managers once per month and metric that dropped; returns the alerts sent."""
    status = target_status(now.date())
    if status.targets is None:
        return 0
    recipients = list(
        db.session.scalars(
            select(User)
            .where(User.role.in_((Role.ADMIN, Role.SALES_MANAGER)), User.active.is_(True))
            .order_by(User.id)
        )
    )
    sent = 0
    for metric, sentence in _alerts_due(status):
        try:
            with db.session.begin_nested():  # a second worker that got here first wins: send nothing
                db.session.add(
                    TargetAlert(
                        month=status.month,
                        metric=metric,
                        message=sentence[:500],
                        recipients=len(recipients),
                        sent_at=now,
                    )
                )
                db.session.flush()
        except IntegrityError:
            continue
        label = (PACE_METRICS | RATE_METRICS)[metric]
        for user in recipients:
            enqueue_message(
                channel=Channel.EMAIL,
                recipient=user.email,
                subject=f"Winback: {label.lower()} below plan in {status.month_label}",
                body_text="\n".join(
                    [
                        f"Hello {user.name},",
                        "",
                        f"{status.month_label}, day {status.day} of {status.days_in_month}:",
                        sentence,
                        "",
                        "This is the one warning for this number this month.",
                        f"The month's figures: {dashboard_url}",
                        "",
                        "Winback",
                    ]
                ),
                idempotency_key=f"targets:{status.month:%Y-%m}:{metric}:{user.id}",
                template=ALERT_TEMPLATE,
                now=now,
            )
        sent += 1
    return sent
