"""Demo data for the pipeline: pending, accepted (some exported, one won back per campaign), rejected and
deferred requalifications, and the demo sales manager's team."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from app.auth.models import Role, User
from app.crm.deals import lost_deal
from app.crm.models import Opportunity
from app.extensions import db
from app.pipeline.models import (
    OPEN_STATUSES,
    Requalification,
    RequalificationSource,
    RequalificationStatus,
    SalesTeam,
)
from app.pipeline.recycling import WINBACK_ID, link_recycled
from app.pipeline.scoring import score_call
from app.pipeline.service import accept, add_signal, defer, evaluate_all, reject

DEMO_CALLS = [
    {
        "what_changed": "Their new vendor missed the go-live date",
        "budget": "Approved for Q1",
        "timeline": "Q1",
    },
    {"what_changed": "New head of sales wants to compare again", "decision_maker": "VP Sales"},
    {
        "what_changed": "Contract with the competitor ends in March",
        "timeline": "March",
        "budget": "Same as before",
    },
    {"what_changed": "Unhappy with the competitor's support", "next_step": "Send the new pricing"},
    {
        "what_changed": "Merged with a company that uses us",
        "decision_maker": "CIO",
        "timeline": "Next quarter",
    },
    {"what_changed": "Price was the blocker; budget increased", "budget": "+20%"},
]
MIN_REQUALIFICATIONS = 10
ACCEPTED = 5  # two won back (one per campaign), one lost again, two still open in the recycled pipeline
WON = 2
ACCEPTED_AFTER_DAYS = 1
DECIDED_LATE_AFTER_DAYS = 5


def _open_accounts() -> set[int]:
    return set(
        db.session.scalars(
            select(Requalification.account_id).where(Requalification.status.in_(OPEN_STATUSES))
        )
    )


def _add_call_requalifications(count: int, *, now: datetime) -> None:
    taken = _open_accounts()
    lost = db.session.scalars(
        select(Opportunity)
        .where(lost_deal())
        .order_by(Opportunity.amount.desc().nulls_last(), Opportunity.id)
        .limit(200)
    ).all()
    added = 0
    for opportunity in lost:
        if added >= count:
            break
        if opportunity.account_id in taken:
            continue
        form = DEMO_CALLS[added % len(DEMO_CALLS)]
        add_signal(
            account_id=opportunity.account_id,
            opportunity_id=opportunity.id,
            campaign_id=None,
            source=RequalificationSource.CALL,
            score=score_call(form, "Demo call"),
            now=now - timedelta(days=added % 5, hours=added),
        )
        taken.add(opportunity.account_id)
        added += 1


def _take_turns(requalifications: list[Requalification]) -> list[Requalification]:
    """Each campaign's best in turn, then the next best of each, and so on (order kept within each)."""
    queues: dict[int, list[Requalification]] = {}
    for requalification in requalifications:
        if requalification.campaign_id is not None:
            queues.setdefault(requalification.campaign_id, []).append(requalification)
    turns = []
    for rank in range(max((len(q) for q in queues.values()), default=0)):
        turns.extend(q[rank] for q in queues.values() if rank < len(q))
    return turns + [r for r in requalifications if r.campaign_id is None]


def load_pipeline_demo(*, now: datetime) -> None:
    evaluate_all(now=now)  # the demo's completed responses, if the signal did not see them
    count = db.session.scalar(select(func.count()).select_from(Requalification)) or 0
    if count < MIN_REQUALIFICATIONS:
        _add_call_requalifications(MIN_REQUALIFICATIONS - count, now=now)
    manager = db.session.scalar(select(User).where(User.role == Role.SALES_MANAGER).order_by(User.id))
    if manager is None:
        return
    pending = db.session.scalars(
        select(Requalification)
        .where(Requalification.status == RequalificationStatus.PENDING)
        .order_by(Requalification.score.desc(), Requalification.id)
    ).all()
    # Sales decides first on what the campaigns delivered a few days ago, so the funnel's last steps
    # (accepted, won) have deals in them and the days between the steps run forward.
    settled = now - timedelta(days=ACCEPTED_AFTER_DAYS + 1)
    by_age = sorted(
        pending, key=lambda r: (r.campaign_id is None, r.created_at > settled, -(r.score or 0), r.id)
    )
    accepted = _take_turns(by_age)[:ACCEPTED]
    undecided = [r for r in pending if r not in accepted]
    rejected, deferred = undecided[:2], undecided[2:3]
    for index, requalification in enumerate(accepted):
        original = requalification.opportunity
        # The deals won back were decided the next day; the others waited past the service level.
        days = ACCEPTED_AFTER_DAYS if index < WON else DECIDED_LATE_AFTER_DAYS
        decided = min(requalification.created_at + timedelta(days=days), now)
        accept(
            requalification,
            reviewer=manager,
            owner=(original.owner if original and original.owner else "Demo Owner"),
            expected_amount=original.amount if original else None,
            next_step="Discovery call with the new decision maker",
            next_step_date=(now + timedelta(days=7)).date(),
            now=decided,
        )
    for requalification in rejected:
        reject(
            requalification, reviewer=manager, reason="bad_timing", text="Asked us to wait a year", now=now
        )
    for requalification in deferred:  # "ask me again next month": sales follow-up shows a deferral
        defer(requalification, reviewer=manager, until=(now + timedelta(days=30)).date(), now=now)
    for requalification in accepted[: WON + 1]:  # the won, and the one add_recycled_loss sees lost again
        requalification.exported_at = now
    for won in accepted[:WON]:
        original = won.opportunity
        db.session.add(
            Opportunity(
                crm_source=original.crm_source if original else "salesforce",
                crm_id=f"DEMO-RECYCLED-{won.id}",
                account_id=won.account_id,
                name=f"{won.account.name} – recycled",
                amount=won.expected_amount,
                currency=original.currency if original else "USD",
                stage="Closed Won",
                is_closed=True,
                is_won=True,
                close_date=now.date(),
                owner=won.owner,
                raw={WINBACK_ID: won.winback_id},
            )
        )
    if accepted:
        db.session.flush()
        link_recycled(now=now)
    owners = [
        owner
        for owner, _ in db.session.execute(
            select(Opportunity.owner, func.count())
            .where(Opportunity.owner.is_not(None))
            .group_by(Opportunity.owner)
            .order_by(func.count().desc(), Opportunity.owner)
            .limit(2)
        )
    ]
    if db.session.get(SalesTeam, manager.id) is None:
        db.session.add(SalesTeam(manager_id=manager.id, owners=owners, regions=[]))
    db.session.flush()
