"""Service levels in practice: each sales manager's daily digest, and compliance by manager and month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from app.auth.models import Role, User
from app.crm.models import Account, Opportunity
from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.service import enqueue_message
from app.money.service import month_start
from app.pipeline.models import OPEN_STATUSES, Requalification, RequalificationStatus, SalesTeam
from app.pipeline.queue import team_scope
from app.pipeline.recovered import accepted_requalification
from app.pipeline.sla import on_time
from app.pipeline.unassigned import unassigned


def _items(scope) -> list[Requalification]:
    """Open and accepted-but-untouched requalifications within the scope (all of them when it is None)."""
    query = (
        select(Requalification)
        .join(Account, Account.id == Requalification.account_id)
        .outerjoin(Opportunity, Opportunity.id == Requalification.opportunity_id)
        .where(
            or_(
                Requalification.status.in_(OPEN_STATUSES),
                accepted_requalification() & Requalification.first_touch_at.is_(None),
            )
        )
        .options(selectinload(Requalification.account))
        .order_by(Requalification.id)
    )
    if scope is not None:
        query = query.where(scope)
    return list(db.session.scalars(query))


def _due_at(requalification: Requalification) -> datetime | None:
    if requalification.status is RequalificationStatus.ACCEPTED:
        return requalification.first_touch_due_at
    return requalification.decision_due_at


@dataclass
class Digest:
    overdue: list[Requalification]
    due_today: list[Requalification]


def digest_for(manager: User, *, now: datetime) -> Digest:
    """The manager's team's overdue and due-today requalifications (everyone's without a team)."""
    return _digest(_items(team_scope(db.session.get(SalesTeam, manager.id))), now)


def unassigned_digest(*, now: datetime) -> Digest | None:
    """The unassigned requalifications that are overdue or due today: the service-levels page's
    "Unassigned" row and every manager's digest line (None while no team is set)."""
    scope = unassigned()
    if scope is None:
        return None
    return _digest([r for r in _items(scope) if r.status in OPEN_STATUSES], now)


def _digest(items: list[Requalification], now: datetime) -> Digest:
    overdue, due_today = [], []
    for requalification in items:
        due = _due_at(requalification)
        if due is None:
            continue
        if due < now:
            overdue.append(requalification)
        elif due.date() == now.date():
            due_today.append(requalification)
    return Digest(overdue, due_today)


def _line(requalification: Requalification) -> str:
    what = "first touch" if requalification.status is RequalificationStatus.ACCEPTED else "decision"
    due = _due_at(requalification)
    return (
        f"- {requalification.winback_id} {requalification.account.name}: {what} due {due:%Y-%m-%d %H:%M} UTC"
    )


def _unassigned_line(digest: Digest) -> str:
    return (
        f"Unassigned, in no team: {len(digest.overdue)} overdue, {len(digest.due_today)} due today "
        "(take them from the top of the review queue)."
    )


def queue_digests(*, now: datetime, review_url: str) -> int:
    """Queue today's digest for each active sales manager with something due or overdue (once a day)."""
    queued = 0
    managers = db.session.scalars(
        select(User).where(User.role == Role.SALES_MANAGER, User.active.is_(True)).order_by(User.id)
    )
    nobody = unassigned_digest(now=now)
    nobody_waiting = nobody is not None and bool(nobody.overdue or nobody.due_today)
    for manager in managers:
        digest = digest_for(manager, now=now)
        if not digest.overdue and not digest.due_today and not nobody_waiting:
            continue
        lines = [f"Hello {manager.name},", ""]
        if nobody_waiting:
            lines += [_unassigned_line(nobody), ""]
        if digest.overdue:
            lines += [f"Overdue ({len(digest.overdue)}):", *(_line(r) for r in digest.overdue), ""]
        if digest.due_today:
            lines += [f"Due today ({len(digest.due_today)}):", *(_line(r) for r in digest.due_today), ""]
        lines += [f"Review them: {review_url}", "", "Winback"]
        enqueue_message(
            channel=Channel.EMAIL,
            recipient=manager.email,
            subject=f"Winback: {len(digest.overdue)} overdue, {len(digest.due_today)} due today",
            body_text="\n".join(lines),
            idempotency_key=f"pipeline-digest:{manager.id}:{now.date().isoformat()}",
            template="pipeline.digest",
            now=now,
        )
        queued += 1
    return queued + queue_connection_alerts(now=now, review_url=review_url)


def connection_lines(*, now: datetime) -> list[str]:
    """One digest line per failed CRM connection: what failed, when, and that pushes wait."""
    from app.crm.sync.service import sync_connections

    return [
        f"- The {c.crm_source.title()} sync failed on {c.failed_at:%Y-%m-%d %H:%M} UTC: {c.message}. "
        "Deals waiting to be pushed stay queued."
        for c in sync_connections()
        if c.status.value == "failed" and c.failed_at is not None
    ]


def queue_connection_alerts(*, now: datetime, review_url: str) -> int:
    """Each active admin's daily line while a CRM connection has failed (once a day, like the digest)."""
    lines = connection_lines(now=now)
    if not lines:
        return 0
    page = review_url.split("/pipeline/", 1)[0] + "/imports/crm-connection"
    admins = db.session.scalars(
        select(User).where(User.role == Role.ADMIN, User.active.is_(True)).order_by(User.id)
    )
    queued = 0
    for admin in admins:
        enqueue_message(
            channel=Channel.EMAIL,
            recipient=admin.email,
            subject=f"Winback: {len(lines)} CRM connection{'s' if len(lines) != 1 else ''} failed",
            body_text="\n".join(
                [f"Hello {admin.name},", "", *lines, "", f"Fix the login: {page}", "", "Winback"]
            ),
            idempotency_key=f"crm-connection-digest:{admin.id}:{now.date().isoformat()}",
            template="crm.connection_failed",
            now=now,
        )
        queued += 1
    return queued


@dataclass
class Compliance:
    manager: str
    month: str
    decided: int = 0
    on_time: int = 0

    @property
    def rate(self) -> float | None:
        return self.on_time / self.decided if self.decided else None


def sla_compliance() -> list[Compliance]:
    """Decisions made within their due time, by reviewer and month of the decision (one query)."""
    month = month_start(Requalification.decided_at)
    rows = db.session.execute(
        select(
            User.name,
            month,
            func.count(),
            func.count().filter(on_time(Requalification.decided_at, Requalification.decision_due_at)),
        )
        .join(User, User.id == Requalification.reviewer_id)
        .where(Requalification.decided_at.is_not(None))
        .group_by(User.id, User.name, month)
    ).all()
    table = [
        Compliance(name, f"{first_day:%Y-%m}", decided, in_time) for name, first_day, decided, in_time in rows
    ]
    return sorted(table, key=lambda c: (c.month, c.manager))
