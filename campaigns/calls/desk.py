"""What the caller's desk lists beside the call: the contact's history and "my calls today"."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.auth.models import User
from app.crm.places import zone_info
from app.extensions import db
from campaigns.calls.models import CallAttempt, CallTask


def talk_seconds(attempt: CallAttempt) -> int | None:
    """Talk time: Twilio's call duration where known, else from the connect to the end of the call."""
    if attempt.duration_seconds is not None:
        return attempt.duration_seconds
    if attempt.answered_at is not None and attempt.ended_at is not None:
        return max(int((attempt.ended_at - attempt.answered_at).total_seconds()), 0)
    return None


def minutes_seconds(seconds: int | None) -> str:
    return "—" if seconds is None else f"{seconds // 60}:{seconds % 60:02d}"


def start_of_day(now: datetime, zone: str) -> datetime:
    """Midnight today in `zone` (the caller's own day), as an aware datetime."""
    local = now.astimezone(zone_info(zone) or zone_info("UTC"))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def my_calls_today(caller: User, *, now: datetime, limit: int = 100) -> list[CallAttempt]:
    """The caller's attempts since midnight their time, latest first."""
    start = start_of_day(now, caller.timezone)
    return list(
        db.session.scalars(
            select(CallAttempt)
            .where(
                CallAttempt.caller_id == caller.id,
                CallAttempt.started_at >= start,
                CallAttempt.started_at < start + timedelta(days=1, hours=1),
            )
            .options(selectinload(CallAttempt.task).selectinload(CallTask.contact))
            .order_by(CallAttempt.started_at.desc())
            .limit(limit)
        )
    )


def contact_history(task: CallTask) -> list[CallAttempt]:
    """Every attempt on the task's contact, in any campaign, oldest first."""
    return list(
        db.session.scalars(
            select(CallAttempt)
            .where(CallAttempt.contact_id == task.contact_id)
            .options(selectinload(CallAttempt.caller))
            .order_by(CallAttempt.started_at)
        )
    )
