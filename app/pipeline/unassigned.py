"""Unassigned requalifications: open ones whose deal's owner and account's region match no team, and that no
manager has taken. Every manager's queue shows them on top until an admin assigns one or a manager takes it;
the service-levels page and the daily digest count them (digest.unassigned_digest)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select, update

from app.audit.service import record_event
from app.auth.models import Role, User
from app.crm.models import Account, Opportunity
from app.errors import Conflict, ValidationError
from app.extensions import db
from app.pipeline.models import OPEN_STATUSES, Requalification, SalesTeam

ENTITY = "requalification"
UNASSIGNED = "Unassigned"


def unassigned() -> ColumnElement[bool] | None:
    """Unassigned: nobody took it, its lost deal's CRM owner is no team's owner (or it has none) and its
    account's region is no team's region (or it has none). None while no team is set: every manager then
    sees every deal. The query joins Account and outer-joins the Opportunity, as the queue does."""
    owners: set[str] = set()
    regions: set[str] = set()
    for team_owners, team_regions in db.session.execute(select(SalesTeam.owners, SalesTeam.regions)):
        owners.update(team_owners or [])
        regions.update(team_regions or [])
    if not owners and not regions:
        return None
    conditions = [Requalification.assignee_id.is_(None)]
    if owners:
        conditions.append(or_(Opportunity.owner.is_(None), Opportunity.owner.not_in(sorted(owners))))
    if regions:
        conditions.append(or_(Account.region.is_(None), Account.region.not_in(sorted(regions))))
    return and_(*conditions)


def unassigned_query():
    """The open unassigned requalifications, overdue first (None while no team is set)."""
    condition = unassigned()
    if condition is None:
        return None
    return (
        select(Requalification)
        .join(Account, Account.id == Requalification.account_id)
        .outerjoin(Opportunity, Opportunity.id == Requalification.opportunity_id)
        .where(Requalification.status.in_(OPEN_STATUSES), condition)
        .order_by(
            Requalification.decision_due_at.is_(None),
            Requalification.decision_due_at,
            Requalification.score.desc(),
            Requalification.id,
        )
    )


def unassigned_count() -> int:
    query = unassigned_query()
    if query is None:
        return 0
    return db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))


def assign(requalification: Requalification, manager: User, *, by: User, now: datetime) -> None:
    """Give the requalification to a manager (an admin), or take it (a manager, for themselves).

    A conditional UPDATE: of two managers taking it at once, the second is told who has it.
    """
    if manager.role is not Role.SALES_MANAGER or not manager.active:
        raise ValidationError("Choose an active sales manager.", field="manager_id")
    if not requalification.is_open:
        raise Conflict(f"{requalification.winback_id} is already {requalification.status.value}.")
    query = update(Requalification).where(Requalification.id == requalification.id)
    if by.role is not Role.ADMIN:
        query = query.where(Requalification.assignee_id.is_(None))
    taken = db.session.execute(
        query.values(assignee_id=manager.id, updated_at=now), execution_options={"synchronize_session": False}
    ).rowcount
    db.session.refresh(requalification)
    if taken != 1:
        holder = requalification.assignee.name if requalification.assignee else "another manager"
        raise Conflict(f"{requalification.winback_id} was already taken by {holder}.")
    record_event(
        "requalification.assigned",
        ENTITY,
        requalification.id,
        actor=by,
        details={"assignee": manager.name, "taken": manager.id == by.id},
        now=now,
    )
    db.session.flush()
