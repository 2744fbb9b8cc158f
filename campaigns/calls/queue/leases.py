"""Leases: a caller holds a task until its lease expires; a vanished caller's lease goes back to the queue."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.auth.models import User
from app.errors import Conflict
from app.extensions import db
from campaigns.calls.models import CallTask, TaskStatus

DEFAULT_LEASE_SECONDS = 15 * 60


class LeaseLost(Conflict):
    code = "lease_lost"


def release_expired_leases(*, now: datetime) -> int:
    """Leases whose caller vanished go back to the queue, history intact."""
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
    """The caller is still on the task: keep it theirs. Raises LeaseLost if it went to someone else."""
    if task.status is TaskStatus.LEASED and task.leased_by_id == caller.id:
        task.lease_expires_at = now + timedelta(seconds=lease_seconds)
        return
    if task.status is TaskStatus.READY and task.leased_by_id is None:
        # Expired and released, but nobody took it: the caller who was on it keeps it.
        task.status = TaskStatus.LEASED
        task.leased_by_id = caller.id
        task.leased_at = now
        task.lease_expires_at = now + timedelta(seconds=lease_seconds)
        try:
            with db.session.begin_nested():
                db.session.flush()
        except IntegrityError:
            raise LeaseLost("This call went back to the queue and you hold another one now.") from None
        return
    raise LeaseLost("This call is no longer yours: its lease expired and it went back to the queue.")
