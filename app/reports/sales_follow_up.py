"""Sales follow-up: what each sales manager decided on the requalifications, how fast, and within the SLA.

The service levels are the pipeline's: each requalification carries the decision and first-touch due times
that `app.pipeline.sla` computed in business days, and `app.pipeline.sla.on_time` says whether they were met.
Aggregated in the database, by reviewer and month of the decision.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select

from app.auth.models import User
from app.extensions import db
from app.money.service import month_start
from app.pipeline.models import REJECT_REASONS, Requalification, RequalificationStatus
from app.pipeline.sla import on_time
from app.reports.aggregates import days_between, medians
from app.reports.filters import month_starts
from app.reports.funnel import day_bounds


@dataclass
class FollowUpRow:
    manager: str
    month: date | None  # None: the whole period
    reviewer_id: int | None = None
    decided: int = 0
    on_time: int = 0
    accepted: int = 0
    rejected: int = 0
    deferred: int = 0  # deferred in the period and still waiting
    touched_on_time: int = 0  # accepted ones whose owner touched them within the first-touch level
    median_days: float | None = None  # from requalification to decision

    @property
    def compliance(self) -> float | None:
        return self.on_time / self.decided if self.decided else None

    @property
    def acceptance(self) -> float | None:
        return self.accepted / self.decided if self.decided else None


@dataclass
class SalesFollowUpReport:
    start: date
    end: date
    managers: list[FollowUpRow]  # the whole period, one row per reviewer
    months: list[FollowUpRow]  # per reviewer and month, every month of the period (empty ones as zero)
    reasons: list[tuple[str, str, int]]  # (reason key, label, rejections) over the period
    by_manager_reason: dict[tuple[int, str], int] = field(default_factory=dict)  # (reviewer id, reason)
    total: FollowUpRow = field(default_factory=lambda: FollowUpRow("All managers", None))


def sales_follow_up_report(start: date, end: date) -> SalesFollowUpReport:
    since, until = day_bounds(start, end)
    r = Requalification
    month = month_start(r.decided_at).label("month")
    decided = (
        select(
            r.reviewer_id.label("reviewer_id"),
            month,
            r.status,
            r.reject_reason,
            on_time(r.decided_at, r.decision_due_at).label("in_time"),
            on_time(r.first_touch_at, r.first_touch_due_at).label("touched"),
            days_between(r.created_at, r.decided_at).label("days"),
        )
        .where(r.decided_at >= since, r.decided_at < until, r.reviewer_id.is_not(None))
        .subquery()
    )
    d = decided.c
    accepted = d.status == RequalificationStatus.ACCEPTED
    names = {user_id: name for user_id, name in db.session.execute(select(User.id, User.name))}
    per_month: dict[tuple[int, date], FollowUpRow] = {}
    for reviewer, first_day, count, in_time, accepted_count, rejected, touched in db.session.execute(
        select(
            d.reviewer_id,
            d.month,
            func.count(),
            func.count().filter(d.in_time),
            func.count().filter(accepted),
            func.count().filter(d.status == RequalificationStatus.REJECTED),
            func.count().filter(accepted & d.touched),
        ).group_by(d.reviewer_id, d.month)
    ):
        per_month[(reviewer, first_day)] = FollowUpRow(
            names.get(reviewer, "?"),
            first_day,
            reviewer,
            count,
            in_time,
            accepted_count,
            rejected,
            0,
            touched,
        )
    deferred_month = month_start(r.updated_at)
    deferred = dict(
        ((reviewer, first_day), count)
        for reviewer, first_day, count in db.session.execute(
            select(r.reviewer_id, deferred_month, func.count())
            .where(
                r.status == RequalificationStatus.DEFERRED,
                r.reviewer_id.is_not(None),
                r.updated_at >= since,
                r.updated_at < until,
            )
            .group_by(r.reviewer_id, deferred_month)
        )
    )
    for key, count in deferred.items():
        per_month.setdefault(key, FollowUpRow(names.get(key[0], "?"), key[1], key[0])).deferred = count
    durations = select(d.reviewer_id, d.month, d.days)
    for (reviewer, first_day), days in medians(durations, ("days",), keys=("reviewer_id", "month")).items():
        per_month[(reviewer, first_day)].median_days = days["days"]
    reviewers = sorted({reviewer for reviewer, _ in per_month}, key=lambda i: (names.get(i, "?"), i))
    managers: dict[int, FollowUpRow] = {}
    total = FollowUpRow("All managers", None)
    for (reviewer, _first_day), row in per_month.items():
        manager = managers.setdefault(reviewer, FollowUpRow(row.manager, None, reviewer))
        for target in (manager, total):
            for name in ("decided", "on_time", "accepted", "rejected", "deferred", "touched_on_time"):
                setattr(target, name, getattr(target, name) + getattr(row, name))
    for (reviewer,), days in medians(durations, ("days",), keys=("reviewer_id",)).items():
        managers[reviewer].median_days = days["days"]
    total.median_days = medians(durations, ("days",)).get((), {}).get("days")
    months = [
        per_month.get((reviewer, first_day)) or FollowUpRow(names.get(reviewer, "?"), first_day, reviewer)
        for reviewer in reviewers
        for first_day in month_starts(start, end)
    ]
    by_manager_reason: dict[tuple[int, str], int] = defaultdict(int)
    reason_totals: dict[str, int] = defaultdict(int)
    for reviewer, reason, count in db.session.execute(
        select(d.reviewer_id, d.reject_reason, func.count())
        .where(d.status == RequalificationStatus.REJECTED)
        .group_by(d.reviewer_id, d.reject_reason)
    ):
        reason = reason or "other"
        by_manager_reason[(reviewer, reason)] += count
        reason_totals[reason] += count
    reasons = sorted(
        ((key, REJECT_REASONS.get(key, key), count) for key, count in reason_totals.items()),
        key=lambda item: (-item[2], item[1]),
    )
    return SalesFollowUpReport(
        start=start,
        end=end,
        managers=[managers[reviewer] for reviewer in reviewers],
        months=months,
        reasons=reasons,
        by_manager_reason=dict(by_manager_reason),
        total=total,
    )
