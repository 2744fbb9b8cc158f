"""Callers: calls, connects, completes, requalified dispositions, talk time and average handling time,
per caller over a period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from app.auth.models import User
from app.extensions import db
from app.reports.funnel import day_bounds
from app.reports.outcomes import call_connected
from campaigns.calls.models import CallAttempt, Disposition
from campaigns.calls.reports import average_handling


@dataclass(frozen=True)
class CallerRow:
    caller: str
    calls: int
    connects: int
    completes: int
    requalified: int
    talk_seconds: int
    # From the connect to the disposition, averaged over the calls that have one (campaigns.calls.reports).
    handling_seconds: float | None = None

    @property
    def connect_rate(self) -> float:
        return self.connects / self.calls if self.calls else 0.0


def callers_report(start: date, end: date) -> list[CallerRow]:
    since, until = day_bounds(start, end)
    connected = call_connected()
    rows = db.session.execute(
        select(
            User.id,
            User.name,
            func.count(CallAttempt.id),
            func.count(CallAttempt.id).filter(connected),
            func.count(CallAttempt.id).filter(CallAttempt.disposition == Disposition.COMPLETED),
            func.count(CallAttempt.id).filter(CallAttempt.disposition == Disposition.REQUALIFIED),
            func.coalesce(func.sum(CallAttempt.duration_seconds), 0),
        )
        .join(User, User.id == CallAttempt.caller_id)
        .where(CallAttempt.started_at >= since, CallAttempt.started_at < until)
        .group_by(User.id, User.name)
        .order_by(User.name)
    ).all()
    handling = average_handling(since, until)
    return [
        CallerRow(name, calls, connects, completes, requalified, int(talk), handling.get(caller_id))
        for caller_id, name, calls, connects, completes, requalified, talk in rows
    ]


def talk_time(seconds: int) -> str:
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
