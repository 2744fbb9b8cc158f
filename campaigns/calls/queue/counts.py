"""What the supervisor and callers see of the queue: live counts, callback priorities, callbacks due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from app.auth.models import User
from app.extensions import db
from campaigns.calls.models import CallTask, TaskStatus
from campaigns.calls.queue.scope import active_call_campaigns, claim_scope
from campaigns.models import Campaign

CALLBACK_BOOST = 400_000_000  # callbacks before fresh tasks; personal ones (2x) before the rest


@dataclass
class QueueCounts:
    ready_now: int = 0
    waiting_for_hours: int = 0
    leased: int = 0
    callbacks_due: int = 0
    exhausted: int = 0
    unknown_time_zone: int = 0
    scheduled: int = 0
    done: int = 0

    def to_json(self) -> dict[str, int]:
        return dict(self.__dict__)


def queue_counts(*, now: datetime, campaigns: list[Campaign] | None = None) -> QueueCounts:
    """The supervisor's live counts, over the given campaigns (every active calls campaign by default)."""
    if campaigns is None:
        campaigns = active_call_campaigns()
    counts = QueueCounts()
    if not campaigns:
        return counts
    scope = claim_scope(campaigns, now=now)
    ids = [campaign.id for campaign in campaigns]
    due_flag = CallTask.due_at <= now  # one object, so SELECT and GROUP BY share its parameter
    callback_flag = CallTask.callback_at.is_not(None)
    grouping = (CallTask.campaign_id, CallTask.status, CallTask.zone_set_id, due_flag, callback_flag)
    rows = db.session.execute(
        select(*grouping, func.count()).where(CallTask.campaign_id.in_(ids)).group_by(*grouping)
    ).all()
    for campaign_id, status, zone_set_id, due, callback, count in rows:
        if status is TaskStatus.LEASED:
            counts.leased += count
        elif status is TaskStatus.EXHAUSTED:
            counts.exhausted += count
        elif status in (TaskStatus.DONE, TaskStatus.CANCELLED):
            counts.done += count
        elif zone_set_id is None:
            counts.unknown_time_zone += count
        elif not due:
            counts.scheduled += count
        else:
            if callback:
                counts.callbacks_due += count
            if zone_set_id in scope.open_sets.get(campaign_id, ()):
                counts.ready_now += count
            else:
                counts.waiting_for_hours += count
    return counts


def callback_priority(priority: int, *, personal: bool) -> int:
    """A callback's priority: above every fresh task, a personal one above callbacks for anyone."""
    return priority % CALLBACK_BOOST + (2 if personal else 1) * CALLBACK_BOOST


def callbacks_due_today(caller: User, *, now: datetime) -> list[CallTask]:
    end = now + timedelta(hours=24)
    return list(
        db.session.scalars(
            select(CallTask)
            .where(
                CallTask.status.in_([TaskStatus.READY, TaskStatus.LEASED]),
                CallTask.callback_owner_id == caller.id,
                CallTask.callback_at <= end,
            )
            .order_by(CallTask.callback_at)
        )
    )
