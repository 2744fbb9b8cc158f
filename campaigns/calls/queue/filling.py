"""Filling the queue (the hopper): one CallTask per active enrollment of a calls campaign.

For "survey, then calls", a task is created once the survey has gone unanswered for the campaign's wait.
Tasks whose enrollment ended are cancelled here too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, exists, func, insert, select, update

from app.crm.models import Account, Contact, Opportunity
from app.extensions import db
from campaigns.calls.hours import zone_key
from campaigns.calls.models import CallTask, TaskStatus, TimeZoneSet
from campaigns.calls.queue.leases import release_expired_leases
from campaigns.calls.queue.scope import active_call_campaigns
from campaigns.models import Campaign, CampaignKind, Enrollment, EnrollmentStatus
from surveys.models import Invitation


def base_priority(amount: Decimal | None, close_date: date | None, *, today: date) -> int:
    """Bigger deals first, then the ones lost most recently."""
    thousands = min(int((amount or 0) // 1000), 99_998)
    age = (today - close_date).days if close_date else 999
    return thousands * 1000 + max(0, 999 - min(max(age, 0), 999))


# What places a contact (app.crm.places): read with the contact, joined to its account.
_WHEREABOUTS = (Contact.phone, Contact.timezone, Contact.state, Contact.country, Account.country)


def _zone_key(phone, timezone, state, country, account_country) -> str | None:
    return zone_key(phone, timezone, state=state, country=country, account_country=account_country)


class ZoneSets:
    """Get-or-create TimeZoneSet rows by key, with one query for the ones already stored."""

    def __init__(self) -> None:
        self.ids = {
            zones: id_ for id_, zones in db.session.execute(select(TimeZoneSet.id, TimeZoneSet.zones))
        }

    def id_for(self, key: str | None) -> int | None:
        if key is None:
            return None
        if key not in self.ids:
            zone_set = TimeZoneSet(zones=key)
            db.session.add(zone_set)
            db.session.flush()
            self.ids[key] = zone_set.id
        return self.ids[key]


@dataclass
class FillResult:
    campaign_id: int
    campaign: str
    created: int = 0
    cancelled: int = 0
    zones_updated: int = 0

    def to_json(self) -> dict:
        return {
            "campaign_id": self.campaign_id,
            "campaign": self.campaign,
            "created": self.created,
            "cancelled": self.cancelled,
            "zones_updated": self.zones_updated,
        }


def _enrollments_to_queue(campaign: Campaign, *, now: datetime):
    query = (
        select(
            Enrollment.id,
            Enrollment.contact_id,
            Opportunity.amount,
            Opportunity.close_date,
            *_WHEREABOUTS,
        )
        .join(Contact, Contact.id == Enrollment.contact_id)
        .join(Account, Account.id == Contact.account_id)
        .join(Opportunity, Opportunity.id == Enrollment.opportunity_id)
        .where(
            Enrollment.campaign_id == campaign.id,
            Enrollment.status == EnrollmentStatus.ACTIVE,
            ~exists().where(CallTask.enrollment_id == Enrollment.id),
        )
        .order_by(Enrollment.id)
    )
    if campaign.kind is CampaignKind.BOTH:
        wait = now - timedelta(days=campaign.call_after_survey_days)
        query = query.outerjoin(Invitation, Invitation.id == Enrollment.invitation_id).where(
            Invitation.completed_at.is_(None),
            func.coalesce(Invitation.sent_at, Enrollment.enrolled_at) <= wait,
        )
    return db.session.execute(query).all()


def fill_campaign(campaign: Campaign, *, now: datetime, zone_sets: ZoneSets | None = None) -> FillResult:
    """Queue the campaign's new enrollments; cancel tasks whose enrollment ended; re-read unknown zones."""
    zone_sets = zone_sets or ZoneSets()
    result = FillResult(campaign.id, campaign.name)
    rows = []
    for enrollment_id, contact_id, amount, close_date, *whereabouts in _enrollments_to_queue(
        campaign, now=now
    ):
        rows.append(
            {
                "campaign_id": campaign.id,
                "enrollment_id": enrollment_id,
                "contact_id": contact_id,
                "status": TaskStatus.READY,
                "priority": base_priority(amount, close_date, today=now.date()),
                "due_at": now,
                "attempts": 0,
                "zone_set_id": zone_sets.id_for(_zone_key(*whereabouts)),
                "created_at": now,
            }
        )
    for start in range(0, len(rows), 1000):
        db.session.execute(insert(CallTask), rows[start : start + 1000])
    result.created = len(rows)
    ended = select(Enrollment.id).where(
        Enrollment.campaign_id == campaign.id, Enrollment.status != EnrollmentStatus.ACTIVE
    )
    result.cancelled = cancel_tasks(
        and_(CallTask.campaign_id == campaign.id, CallTask.enrollment_id.in_(ended)),
        reason="enrollment ended",
        now=now,
    )
    stuck = db.session.execute(
        select(CallTask.id, *_WHEREABOUTS)
        .join(Contact, Contact.id == CallTask.contact_id)
        .join(Account, Account.id == Contact.account_id)
        .where(
            CallTask.campaign_id == campaign.id,
            CallTask.status == TaskStatus.READY,
            CallTask.zone_set_id.is_(None),
        )
    ).all()
    for task_id, *whereabouts in stuck:
        zone_set_id = zone_sets.id_for(_zone_key(*whereabouts))
        if zone_set_id is not None:
            db.session.execute(update(CallTask).where(CallTask.id == task_id).values(zone_set_id=zone_set_id))
            result.zones_updated += 1
    return result


def refresh_contact_zones(contact_ids: Iterable[int], *, zone_sets: ZoneSets | None = None) -> int:
    """Re-place the open tasks of contacts whose phone, time zone or address changed; how many moved.

    A task's zone set is what the claim reads, so it must follow the contact: a new phone or time zone
    takes effect at the next claim, and a contact no longer placed anywhere becomes unknown-zone.
    """
    ids = sorted(set(contact_ids))
    if not ids:
        return 0
    zone_sets = zone_sets or ZoneSets()
    moved = 0
    for start in range(0, len(ids), 500):
        rows = db.session.execute(
            select(CallTask.id, CallTask.zone_set_id, *_WHEREABOUTS)
            .join(Contact, Contact.id == CallTask.contact_id)
            .join(Account, Account.id == Contact.account_id)
            .where(
                CallTask.contact_id.in_(ids[start : start + 500]),
                CallTask.status.in_([TaskStatus.READY, TaskStatus.LEASED]),
            )
        ).all()
        for task_id, current, *whereabouts in rows:
            zone_set_id = zone_sets.id_for(_zone_key(*whereabouts))
            if zone_set_id != current:
                db.session.execute(
                    update(CallTask).where(CallTask.id == task_id).values(zone_set_id=zone_set_id)
                )
                moved += 1
    return moved


def fill_queue(*, now: datetime, campaign: Campaign | None = None) -> list[FillResult]:
    """What `flask calls fill` and the worker run: every active calls campaign, or one. Idempotent."""
    release_expired_leases(now=now)
    campaigns = [campaign] if campaign is not None else active_call_campaigns()
    zone_sets = ZoneSets()
    return [fill_campaign(each, now=now, zone_sets=zone_sets) for each in campaigns]


def cancel_tasks(condition, *, reason: str, now: datetime) -> int:
    statement = (
        update(CallTask)
        .where(condition, CallTask.status.in_([TaskStatus.READY, TaskStatus.LEASED]))
        .values(
            status=TaskStatus.CANCELLED,
            closed_reason=reason[:120],
            closed_at=now,
            lease_expires_at=None,  # leased_by_id is kept: the caller on it is told why it closed
        )
    )
    return db.session.execute(statement, execution_options={"synchronize_session": False}).rowcount


def cancel_contact_tasks(contact_id: int, *, reason: str, now: datetime) -> int:
    """Every open task of the contact, in every campaign (do not call, opt-out, erasure)."""
    return cancel_tasks(CallTask.contact_id == contact_id, reason=reason, now=now)
