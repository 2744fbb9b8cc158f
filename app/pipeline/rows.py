"""What a row of the review queue says about a deal: why it matters and whom to call."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.crm.models import Contact, Opportunity
from app.extensions import db
from app.pipeline.models import Requalification
from app.pipeline.people import contacts_to_call, default_owner, owner_names
from app.pipeline.queue import is_overdue
from app.pipeline.recycling import requalification_amount


@dataclass
class QueueRow:
    requalification: Requalification
    amount: Decimal | None
    currency: str
    competitor: str | None
    crm_loss_reason: str | None
    coded_reasons: list[str] = field(default_factory=list)
    contact: Contact | None = None
    owner: str | None = None  # the deal's owner, as a Winback user where one matches
    age_days: int = 0
    overdue: bool = False


def coded_reasons(opportunity_ids: list[int]) -> dict[int, list[str]]:
    """{opportunity id: the labels of its customer-stated reasons, primary first} in one query."""
    from app.coding.models import OpportunityReason

    found: dict[int, list[str]] = defaultdict(list)
    if not opportunity_ids:
        return found
    rows = db.session.scalars(
        select(OpportunityReason)
        .where(OpportunityReason.opportunity_id.in_(opportunity_ids))
        .options(selectinload(OpportunityReason.reason_code))
        .order_by(
            OpportunityReason.is_primary.desc(), OpportunityReason.mentions.desc(), OpportunityReason.id
        )
    )
    for reason in rows:
        found[reason.opportunity_id].append(reason.reason_code.label)
    return found


def _competitor(opportunity: Opportunity | None) -> str | None:
    if opportunity is None:
        return None
    return opportunity.competitor.name if opportunity.competitor else opportunity.competitor_raw


def queue_rows(requalifications: list[Requalification], *, now: datetime) -> list[QueueRow]:
    """The rows of one page of the queue, in its order (a handful of queries for the whole page)."""
    opportunity_ids = [r.opportunity_id for r in requalifications if r.opportunity_id]
    if opportunity_ids:  # the competitors, loaded once for the page
        db.session.scalars(
            select(Opportunity)
            .where(Opportunity.id.in_(opportunity_ids))
            .options(selectinload(Opportunity.competitor))
        ).all()
    reasons = coded_reasons(opportunity_ids)
    contacts = contacts_to_call(requalifications)
    names = owner_names()
    rows = []
    for requalification in requalifications:
        opportunity = requalification.opportunity
        amount, currency = requalification_amount(requalification, None)
        rows.append(
            QueueRow(
                requalification=requalification,
                amount=amount,
                currency=currency,
                competitor=_competitor(opportunity),
                crm_loss_reason=opportunity.crm_loss_reason if opportunity else None,
                coded_reasons=reasons.get(requalification.opportunity_id, []),
                contact=contacts.get(requalification.id),
                owner=default_owner(requalification, names),
                age_days=max(0, (now - requalification.created_at).days),
                overdue=is_overdue(requalification, now),
            )
        )
    return rows
