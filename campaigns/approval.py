"""Approval by name: the people waiting in a campaign, approved or left out one by one (with a reason)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload

from app.audit.service import record_event
from app.crm.models import Account, Contact, Opportunity
from app.errors import ValidationError
from app.extensions import db
from app.tables import PageLinks
from campaigns.invitations import invite_new_enrollments
from campaigns.models import Campaign, CampaignStateError, CampaignStatus, Enrollment, EnrollmentStatus

if TYPE_CHECKING:
    from app.auth.models import User

APPROVAL_PAGE_SIZE = 50
REASON_MAX = 500


@dataclass(frozen=True)
class Waiting:
    """One person waiting for approval, as the admin reads them."""

    enrollment_id: int
    name: str
    company: str
    deal: str
    amount: Decimal | None
    currency: str


@dataclass(frozen=True)
class WaitingPage(PageLinks):
    rows: list[Waiting]
    page: int
    pages: int
    total: int


@dataclass(frozen=True)
class Decision:
    approved: int
    excluded: int
    invited: int


def waiting_query(campaign_id: int):
    """The enrollments of a campaign waiting for approval (status pending)."""
    return select(Enrollment.id).where(
        Enrollment.campaign_id == campaign_id, Enrollment.status == EnrollmentStatus.PENDING
    )


def waiting_page(campaign: Campaign, *, page: int, per_page: int = APPROVAL_PAGE_SIZE) -> WaitingPage:
    """One page of the people waiting, oldest match first."""
    total = db.session.scalar(select(func.count()).select_from(waiting_query(campaign.id).subquery())) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    rows = db.session.execute(
        select(
            Enrollment.id,
            Contact.first_name,
            Contact.last_name,
            Account.name,
            Opportunity.name,
            Opportunity.amount,
            Opportunity.currency,
        )
        .join(Contact, Contact.id == Enrollment.contact_id)
        .join(Opportunity, Opportunity.id == Enrollment.opportunity_id)
        .outerjoin(Account, Account.id == Contact.account_id)
        .where(Enrollment.campaign_id == campaign.id, Enrollment.status == EnrollmentStatus.PENDING)
        .order_by(Enrollment.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return WaitingPage(
        rows=[
            Waiting(
                enrollment_id=row[0],
                name=" ".join(part for part in (row[1], row[2]) if part) or "(no name)",
                company=row[3] or "",
                deal=row[4] or "",
                amount=row[5],
                currency=row[6],
            )
            for row in rows
        ],
        page=page,
        pages=pages,
        total=total,
    )


def left_out(campaign: Campaign, *, limit: int = APPROVAL_PAGE_SIZE) -> list[Enrollment]:
    """The people left out of the campaign at approval, latest first, with their reasons."""
    return list(
        db.session.scalars(
            select(Enrollment)
            .where(Enrollment.campaign_id == campaign.id, Enrollment.status == EnrollmentStatus.EXCLUDED)
            .options(joinedload(Enrollment.contact))
            .order_by(Enrollment.status_changed_at.desc(), Enrollment.id.desc())
            .limit(limit)
        )
    )


def pending_among(campaign_id: int, ids: Collection[int]) -> list[Enrollment]:
    """The enrollments of `ids` that still wait in this campaign, with their contacts, by id."""
    if not ids:
        return []
    return list(
        db.session.scalars(
            select(Enrollment)
            .where(
                Enrollment.campaign_id == campaign_id,
                Enrollment.status == EnrollmentStatus.PENDING,
                Enrollment.id.in_(sorted(ids)),
            )
            .options(joinedload(Enrollment.contact))
            .order_by(Enrollment.id)
        )
    )


def clean_reason(raw: str | None) -> str:
    reason = " ".join((raw or "").split())
    if len(reason) > REASON_MAX:
        raise ValidationError(f"Keep the reason under {REASON_MAX} characters.", field="reason")
    return reason


def decide_waiting(
    campaign: Campaign,
    *,
    approve_ids: Collection[int],
    exclude_ids: Collection[int],
    reason: str,
    actor: User | None,
    now: datetime,
) -> Decision:
    """Approve some of the people waiting and leave others out, then invite the approved.

    Only enrollments of this campaign still pending are touched (a stale page changes nothing twice).
    Each exclusion keeps its reason and is audited; an excluded person is never contacted by this campaign.
    """
    if campaign.status is not CampaignStatus.ACTIVE:
        raise CampaignStateError(
            f"Approved contacts are reached at once, so the campaign must be active; "
            f"{campaign.name} is {campaign.status.value}."
        )
    if set(approve_ids) & set(exclude_ids):
        raise ValidationError("A person is either approved or left out, not both.")
    reason = clean_reason(reason)
    if exclude_ids and not reason:
        raise ValidationError("Say why the people you leave out are left out.", field="reason")
    excluded = _exclude(campaign, exclude_ids, reason=reason, actor=actor, now=now)
    approved = 0
    if approve_ids:
        approved = db.session.execute(
            update(Enrollment)
            .where(
                Enrollment.campaign_id == campaign.id,
                Enrollment.status == EnrollmentStatus.PENDING,
                Enrollment.id.in_(list(approve_ids)),
            )
            .values(status=EnrollmentStatus.ACTIVE, status_changed_at=now),
            execution_options={"synchronize_session": False, "preserve_rowcount": True},
        ).rowcount
    invited = invite_new_enrollments(campaign, now=now) if approved else 0
    return Decision(approved=approved, excluded=excluded, invited=invited)


def _exclude(
    campaign: Campaign, ids: Collection[int], *, reason: str, actor: User | None, now: datetime
) -> int:
    enrollments = pending_among(campaign.id, ids)
    for enrollment in enrollments:
        enrollment.status = EnrollmentStatus.EXCLUDED
        enrollment.exclusion_reason = reason
        enrollment.status_changed_at = now
        record_event(
            "enrollment.excluded",
            "enrollment",
            enrollment.id,
            actor=actor,
            details={
                "campaign_id": campaign.id,
                "contact_id": enrollment.contact_id,
                "opportunity_id": enrollment.opportunity_id,
                "reason": reason,
            },
            now=now,
        )
    db.session.flush()
    return len(enrollments)
