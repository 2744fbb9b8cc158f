"""The supervisor's figures: per caller calls, talk time, completes, requalified, handling time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from app.auth.models import Role, User
from app.crm.models import Contact
from app.errors import ValidationError
from app.extensions import db
from campaigns.calls.models import CallAttempt, CallTask, Disposition, TaskStatus
from campaigns.calls.queue import callback_priority


@dataclass
class CallerFigures:
    caller: str
    calls: int
    talk_seconds: int
    completes: int
    requalified: int
    handling_seconds: float  # average, over the calls that have one (see handling_seconds())

    def to_json(self) -> dict:
        return dict(self.__dict__)


EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)


def period_from_args(args: Mapping[str, str], *, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) from ?start=YYYY-MM-DD&end=YYYY-MM-DD (inclusive days); the last 7 days by default."""

    def day(name: str, default: date) -> date:
        try:
            value = date.fromisoformat(args.get(name, "")) if args.get(name) else default
        except ValueError:
            return default
        # Days at the ends of the calendar (year 1, year 9999) have no day before or after to count to.
        return value if EARLIEST <= value <= LATEST else default

    end_day = day("end", now.date())
    start_day = day("start", end_day - timedelta(days=6))
    if start_day > end_day:
        start_day, end_day = end_day, start_day
    start = datetime(start_day.year, start_day.month, start_day.day, tzinfo=UTC)
    end = datetime(end_day.year, end_day.month, end_day.day, tzinfo=UTC) + timedelta(days=1)
    return start, end


def caller_figures(*, start: datetime, end: datetime) -> list[CallerFigures]:
    rows = db.session.execute(
        select(
            User.id,
            User.name,
            func.count(CallAttempt.id),
            func.coalesce(func.sum(CallAttempt.duration_seconds), 0),
            func.count(CallAttempt.id).filter(CallAttempt.disposition == Disposition.COMPLETED),
            func.count(CallAttempt.id).filter(CallAttempt.disposition == Disposition.REQUALIFIED),
        )
        .join(User, User.id == CallAttempt.caller_id)
        .where(CallAttempt.started_at >= start, CallAttempt.started_at < end)
        .group_by(User.id, User.name)
        .order_by(User.name)
    ).all()
    handling = average_handling(start, end)
    return [
        CallerFigures(name, calls, int(talk), completes, requalified, handling.get(caller_id, 0.0))
        for caller_id, name, calls, talk, completes, requalified in rows
    ]


def handling_seconds(connected_at: datetime | None, disposed_at: datetime | None) -> float | None:
    """A call's handling time: from the caller's connect to the disposition; None when either is unknown.

    The connect is when the browser call reached Twilio, the caller's own phone answered, or Call was
    pressed to dial by hand. A disposition recorded without a call placed has no handling time.
    """
    if connected_at is None or disposed_at is None:
        return None
    return max((disposed_at - connected_at).total_seconds(), 0.0)


def average_handling(start: datetime, end: datetime) -> dict[int, float]:
    """Average handling time (handling_seconds) per caller id, over the period's calls that have one."""
    totals: dict[int, list[float]] = {}
    for caller_id, connected, disposed in db.session.execute(
        select(CallAttempt.caller_id, CallAttempt.connected_at, CallAttempt.disposed_at).where(
            CallAttempt.caller_id.is_not(None),
            CallAttempt.started_at >= start,
            CallAttempt.started_at < end,
            CallAttempt.connected_at.is_not(None),
            CallAttempt.disposed_at.is_not(None),
        )
    ):
        seconds = handling_seconds(connected, disposed)
        if seconds is not None:
            totals.setdefault(caller_id, []).append(seconds)
    return {caller: round(sum(values) / len(values), 1) for caller, values in totals.items()}


def recent_calls(*, start: datetime, end: datetime, limit: int = 100) -> list[CallAttempt]:
    """The period's calls with a disposition, newest first: per call handling and talk time, recording."""
    return list(
        db.session.scalars(
            select(CallAttempt)
            .where(
                CallAttempt.started_at >= start,
                CallAttempt.started_at < end,
                CallAttempt.disposed_at.is_not(None),
            )
            .order_by(CallAttempt.started_at.desc(), CallAttempt.id.desc())
            .limit(limit)
        )
    )


def leases(*, now: datetime) -> list[CallTask]:
    return list(
        db.session.scalars(
            select(CallTask).where(CallTask.status == TaskStatus.LEASED).order_by(CallTask.leased_at)
        )
    )


def open_callbacks() -> list[CallTask]:
    return list(
        db.session.scalars(
            select(CallTask)
            .where(CallTask.status == TaskStatus.READY, CallTask.callback_at.is_not(None))
            .order_by(CallTask.callback_at)
            .limit(200)
        )
    )


def stuck_contacts(limit: int = 50) -> list[Contact]:
    """Contacts of queued tasks whose time zone is unknown: a person must set it."""
    return list(
        db.session.scalars(
            select(Contact)
            .join(CallTask, CallTask.contact_id == Contact.id)
            .where(CallTask.status == TaskStatus.READY, CallTask.zone_set_id.is_(None))
            .distinct()
            .order_by(Contact.id)
            .limit(limit)
        )
    )


def reassign_callback(task: CallTask, owner_id: int | None) -> None:
    """Give a callback to another caller, or to anyone (owner_id None or 0)."""
    if task.callback_at is None or task.status is not TaskStatus.READY:
        raise ValidationError("Only a callback waiting in the queue can be reassigned.")
    if owner_id:
        owner = db.session.get(User, owner_id)
        if owner is None or owner.role is not Role.CALLER or not owner.active:
            raise ValidationError("Choose an active caller.", field="owner_id")
        task.callback_owner_id = owner.id
    else:
        task.callback_owner_id = None
    task.priority = callback_priority(task.priority, personal=bool(owner_id))
