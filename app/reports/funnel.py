"""The recovery funnel so far: enrolled → reached (a call connected or a survey opened) → responded.

Requalified, accepted by sales, won and recovered revenue come with the pipeline: not available yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from app.crm.models import Channel
from app.extensions import db
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
LATER_STEPS = ("Requalified", "Accepted by sales", "Won")


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00 UTC, the day after end 00:00 UTC)."""
    return datetime.combine(start, time(), UTC), datetime.combine(end + timedelta(days=1), time(), UTC)


@dataclass
class FunnelRow:
    label: str
    enrolled: int = 0
    reached: int = 0
    responded: int = 0

    def rate(self, step: str) -> float:
        return getattr(self, step) / self.enrolled if self.enrolled else 0.0


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


def funnel_report(start: date, end: date) -> FunnelReport:
    """Enrollments made in the period, each counted once at each step whatever the channel that reached it."""
    since, until = day_bounds(start, end)
    enrollments = db.session.execute(
        select(
            Enrollment.id,
            Campaign.name,
            Invitation.channel,
            Invitation.sent_at,
            Invitation.opened_at,
            Invitation.completed_at,
        )
        .join(Campaign, Campaign.id == Enrollment.campaign_id)
        .outerjoin(Invitation, Invitation.id == Enrollment.invitation_id)
        .where(Enrollment.enrolled_at >= since, Enrollment.enrolled_at < until)
    ).all()
    calls: dict[int, list[bool]] = {}  # enrollment → [called, connected, responded]
    if enrollments:
        for enrollment_id, disposition, answered_at, attempt_response, task_response in db.session.execute(
            select(
                CallTask.enrollment_id,
                CallAttempt.disposition,
                CallAttempt.answered_at,
                CallAttempt.response_id,
                CallTask.response_id,
            )
            .join(CallAttempt, CallAttempt.task_id == CallTask.id)
            .join(Enrollment, Enrollment.id == CallTask.enrollment_id)
            .where(Enrollment.enrolled_at >= since, Enrollment.enrolled_at < until)
        ):
            entry = calls.setdefault(enrollment_id, [True, False, False])
            entry[1] = entry[1] or answered_at is not None or disposition in CONNECTED
            entry[2] = entry[2] or attempt_response is not None or task_response is not None
    overall = FunnelRow("All campaigns")
    per_campaign: dict[str, FunnelRow] = {}
    channels = {name: ChannelRow(name) for name in (Channel.EMAIL.value, Channel.SMS.value, "phone")}
    for row in enrollments:
        called, connected, answered_by_phone = calls.get(row.id, [False, False, False])
        reached = connected or row.opened_at is not None or row.completed_at is not None
        responded = answered_by_phone or row.completed_at is not None
        for target in (overall, per_campaign.setdefault(row.name, FunnelRow(row.name))):
            target.enrolled += 1
            target.reached += reached
            target.responded += responded
        if row.channel is not None and row.sent_at is not None:
            channel = channels.get(str(row.channel))
            if channel is not None:
                channel.contacted += 1
                channel.reached += row.opened_at is not None or row.completed_at is not None
                channel.responded += row.completed_at is not None
        if called:
            channels["phone"].contacted += 1
            channels["phone"].reached += connected
            channels["phone"].responded += answered_by_phone
    return FunnelReport(
        start=start,
        end=end,
        overall=overall,
        campaigns=sorted(per_campaign.values(), key=lambda r: r.label),
        channels=list(channels.values()),
    )
