"""The sales manager's review queue: filters, sort, the team, and what a detail page shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import selectinload

from app.auth.models import User
from app.crm.deals import DealFilter
from app.crm.models import Account, Opportunity
from app.extensions import db
from app.pipeline.models import OPEN_STATUSES, Requalification, RequalificationStatus, SalesTeam
from app.pipeline.teams import TeamScope

SORTS = ("due", "score", "age")  # due: overdue first, then the soonest due


@dataclass
class QueueFilters:
    status: str = "pending"
    region: str = ""
    segment: str = ""
    owner: str = ""
    campaign_id: int | None = None
    min_score: int | None = None
    min_age_days: int | None = None
    sort: str = "due"
    team_only: bool = True
    errors: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, args) -> QueueFilters:
        filters = cls()
        filters.status = args.get("status", "pending")
        if filters.status not in {*(s.value for s in RequalificationStatus), "all"}:
            filters.errors.append("Unknown status: showing pending ones.")
            filters.status = "pending"
        filters.region = args.get("region", "").strip()[:64]
        filters.segment = args.get("segment", "").strip()[:64]
        filters.owner = args.get("owner", "").strip()[:255]
        for name in ("campaign_id", "min_score", "min_age_days"):
            raw = args.get(name, "").strip()
            if raw:
                try:
                    setattr(filters, name, int(raw))
                except ValueError:
                    filters.errors.append(f"{name.replace('_', ' ').capitalize()} must be a whole number.")
        filters.sort = args.get("sort", "due") if args.get("sort", "due") in SORTS else "due"
        filters.team_only = args.get("team", "mine") != "all"
        return filters


def team_of(user: User) -> SalesTeam | None:
    return db.session.get(SalesTeam, user.id)


def team_scope(team: SalesTeam | None) -> ColumnElement[bool] | None:
    """The team scope: a requalification is in a manager's team when its lost deal's CRM owner is one of
    the team's owners or its account is in one of the team's regions. None when the manager has no team
    (everyone's is theirs). The query joins Account and outer-joins the Opportunity. A requalification the
    manager took from the unassigned ones (or an admin gave them) is theirs too.

    Teams are a filter, not a permission: any sales manager may open and decide any requalification.
    """
    condition = TeamScope.of(team).condition(Opportunity.owner, Account.region)
    if condition is None or team is None:
        return condition
    return or_(condition, Requalification.assignee_id == team.manager_id)


def outside_team(requalification: Requalification, manager: User) -> bool:
    """Whether the requalification is outside the manager's team (never when they have none)."""
    scope = team_scope(team_of(manager))
    if scope is None:
        return False
    inside = db.session.scalar(
        select(Requalification.id)
        .join(Account, Account.id == Requalification.account_id)
        .outerjoin(Opportunity, Opportunity.id == Requalification.opportunity_id)
        .where(Requalification.id == requalification.id, scope)
    )
    return inside is None


def queue_query(filters: QueueFilters, *, manager: User, now: datetime) -> Select:
    query = (
        select(Requalification)
        .join(Account, Account.id == Requalification.account_id)
        .outerjoin(Opportunity, Opportunity.id == Requalification.opportunity_id)
        .options(selectinload(Requalification.account), selectinload(Requalification.opportunity))
    )
    if filters.status == "pending":
        query = query.where(Requalification.status == RequalificationStatus.PENDING)
    elif filters.status != "all":
        query = query.where(Requalification.status == filters.status)
    query = DealFilter(
        segment=filters.segment or None,
        region=filters.region or None,
        owner=filters.owner or None,
        campaign=filters.campaign_id,
    ).apply(query, campaign_column=Requalification.campaign_id)
    if filters.min_score is not None:
        query = query.where(Requalification.score >= filters.min_score)
    if filters.min_age_days is not None:
        query = query.where(Requalification.created_at <= now - timedelta(days=filters.min_age_days))
    scope = team_scope(team_of(manager)) if filters.team_only else None
    if scope is not None:
        query = query.where(scope)
    if filters.sort == "age":
        return query.order_by(Requalification.created_at, Requalification.id)
    if filters.sort == "due":
        # Overdue first: the earliest due is the longest overdue; ties go to the higher score.
        return query.order_by(
            Requalification.decision_due_at.is_(None),
            Requalification.decision_due_at,
            Requalification.score.desc(),
            Requalification.id,
        )
    return query.order_by(Requalification.score.desc(), Requalification.created_at, Requalification.id)


def filter_choices() -> dict[str, list]:
    def values(column) -> list[str]:
        return list(db.session.scalars(select(column).distinct().where(column.is_not(None)).order_by(column)))

    from campaigns.models import Campaign

    campaigns = db.session.execute(
        select(Campaign.id, Campaign.name)
        .where(
            Campaign.id.in_(
                select(Requalification.campaign_id).where(Requalification.campaign_id.is_not(None))
            )
        )
        .order_by(Campaign.name)
    ).all()
    return {
        "regions": values(Account.region),
        "segments": values(Account.segment),
        "owners": owners(),
        "campaigns": campaigns,
    }


def owners() -> list[str]:
    """The CRM owners a requalification can be given to: everyone who owns a deal, and the teams' owners."""
    names = set(
        db.session.scalars(select(Opportunity.owner).distinct().where(Opportunity.owner.is_not(None)))
    )
    for team_owners in db.session.scalars(select(SalesTeam.owners)):
        names.update(team_owners or [])
    return sorted(n for n in names if n)


def is_overdue(requalification: Requalification, now: datetime) -> bool:
    if requalification.status in OPEN_STATUSES:
        return requalification.decision_due_at is not None and requalification.decision_due_at < now
    if requalification.status is RequalificationStatus.ACCEPTED:
        return (
            requalification.first_touch_at is None
            and requalification.first_touch_due_at is not None
            and requalification.first_touch_due_at < now
        )
    return False


def call_history(requalification: Requalification) -> list:
    """Every call made about the original lost deal, newest first (sales managers may read them here)."""
    from campaigns.calls.models import CallAttempt, CallTask
    from campaigns.models import Enrollment

    if requalification.opportunity_id is None:
        return []
    return list(
        db.session.scalars(
            select(CallAttempt)
            .join(CallTask, CallTask.id == CallAttempt.task_id)
            .join(Enrollment, Enrollment.id == CallTask.enrollment_id)
            .where(Enrollment.opportunity_id == requalification.opportunity_id)
            .options(selectinload(CallAttempt.caller))
            .order_by(CallAttempt.started_at.desc(), CallAttempt.id.desc())
            .limit(50)
        )
    )
