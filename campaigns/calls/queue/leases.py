"""Leases: a caller holds a task until its lease expires; a vanished caller's lease goes back to the queue."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from app.auth.models import User
from app.errors import Conflict
from app.extensions import db
from campaigns.calls.models import CallAttempt, CallTask, TaskStatus

DEFAULT_LEASE_SECONDS = 15 * 60


class LeaseLost(Conflict):
    code = "lease_lost"


def release_expired_leases(*, now: datetime) -> int:
    """Leases whose caller vanished go back to the queue, history intact; their open attempts end.

    The next caller starts an attempt of their own: nothing they record lands on the one abandoned.
    """
    expired = select(CallTask.id).where(
        CallTask.status == TaskStatus.LEASED, CallTask.lease_expires_at <= now
    )
    db.session.execute(
        update(CallAttempt)
        .where(
            CallAttempt.task_id.in_(expired),
            CallAttempt.disposition.is_(None),
            CallAttempt.abandoned_at.is_(None),
        )
        .values(abandoned_at=now, ended_at=func.coalesce(CallAttempt.ended_at, now)),
        execution_options={"synchronize_session": False},
    )
    statement = (
        update(CallTask)
        .where(CallTask.status == TaskStatus.LEASED, CallTask.lease_expires_at <= now)
        .values(status=TaskStatus.READY, leased_by_id=None, leased_at=None, lease_expires_at=None)
    )
    return db.session.execute(statement, execution_options={"synchronize_session": False}).rowcount


def release_task(task: CallTask) -> None:
    task.status = TaskStatus.READY
    task.leased_by_id = None
    task.leased_at = None
    task.lease_expires_at = None


def held_task(caller: User, *, now: datetime) -> CallTask | None:
    return db.session.scalar(
        select(CallTask).where(
            CallTask.status == TaskStatus.LEASED,
            CallTask.leased_by_id == caller.id,
            CallTask.lease_expires_at > now,
        )
    )


def touch_lease(task: CallTask, caller: User, *, now: datetime, lease_seconds: int) -> None:
    """The caller is still on the task: keep it theirs. Raises LeaseLost once it went back to the queue.

    A task back in the queue (released, or retried later) is never taken back by touching it: only a
    claim through the queue leases it again.
    """
    if task.status is TaskStatus.LEASED and task.leased_by_id == caller.id:
        task.lease_expires_at = now + timedelta(seconds=lease_seconds)
        return
    raise LeaseLost("This call is no longer yours: its lease expired and it went back to the queue.")
