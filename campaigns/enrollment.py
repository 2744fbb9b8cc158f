"""Enroll new matches of active campaigns, idempotently; preview what a campaign's rules would match."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite

from app.crm.deals import lost_deal
from app.crm.models import Opportunity
from app.db_types import UTCDateTime
from app.extensions import db
from app.messaging.channels import Channel
from app.money.service import reporting_currency
from campaigns.invitations import invite_new_enrollments, send_campaign_reminders
from campaigns.models import (
    Campaign,
    CampaignKind,
    CampaignStateError,
    CampaignStatus,
    Enrollment,
    EnrollmentStatus,
)
from campaigns.targeting import (
    TargetingRules,
    candidates,
    deals_without_rate,
    matched_opportunities,
    status_for,
)
from surveys.invitations import due_reminders


@dataclass
class EnrollmentResult:
    campaign_id: int
    campaign: str
    created: int = 0
    invited: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_reason: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "campaign_id": self.campaign_id,
            "campaign": self.campaign,
            "created": self.created,
            "invited": self.invited,
            "by_status": self.by_status,
            "by_reason": self.by_reason,
        }


@dataclass(frozen=True)
class Approval:
    approved: int
    invited: int


@dataclass(frozen=True)
class Preview:
    deals: int
    contacts: int
    eligible: int
    suppressed: int
    by_reason: dict[str, int]
    # With an amount rule: the reporting currency it compares in, and the deals it left out for want of an
    # exchange rate for their close month (None and 0 without one: no extra query then).
    currency: str | None = None
    no_rate: int = 0
    # The eligible contact the templates are previewed with (the lowest id), from the same query.
    first_eligible_contact_id: int | None = field(default=None, compare=False)

    def to_json(self) -> dict:
        return {
            "deals": self.deals,
            "contacts": self.contacts,
            "eligible": self.eligible,
            "suppressed": self.suppressed,
            "by_reason": self.by_reason,
            "currency": self.currency,
            "no_rate": self.no_rate,
        }


def _insert(table):
    if db.session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


ENROLLMENT_CHUNK_ACCOUNTS = 2_000


def account_chunks(chunk_accounts: int = ENROLLMENT_CHUNK_ACCOUNTS) -> list[tuple[int, int]]:
    """(first, last) account ids of consecutive chunks of accounts that have a lost opportunity."""
    opp = Opportunity.__table__
    ids = db.session.scalars(
        select(opp.c.account_id).where(lost_deal(opp.c)).group_by(opp.c.account_id).order_by(opp.c.account_id)
    ).all()
    return [(ids[i], ids[min(i + chunk_accounts, len(ids)) - 1]) for i in range(0, len(ids), chunk_accounts)]


def enroll_campaign(
    campaign: Campaign,
    *,
    now: datetime,
    checkpoint: Callable[[], object] | None = None,
    chunk_accounts: int = ENROLLMENT_CHUNK_ACCOUNTS,
) -> EnrollmentResult:
    """Enroll every new (opportunity, contact) match of an active campaign and invite the new ones.

    Without `checkpoint`: one statement, in the caller's transaction. With it (the worker and the
    CLI pass their commit): `chunk_accounts` accounts at a time, each chunk enrolled, invited and
    checkpointed, so no write transaction grows with the CRM (SQLite has a single write lock that
    survey pages and API pushes wait for). Pairs already enrolled are skipped, and the unique
    constraint makes a concurrent run harmless; a run stopped midway resumes where it stopped.
    """
    if campaign.status is not CampaignStatus.ACTIVE:
        raise CampaignStateError(
            f"Only an active campaign enrolls; {campaign.name} is {campaign.status.value}."
        )
    db.session.flush()
    campaign_id, campaign_name = campaign.id, campaign.name
    created = invited = 0
    chunks: list[tuple[int, int] | None] = (
        [None] if checkpoint is None else list(account_chunks(chunk_accounts))
    )
    for account_range in chunks:
        created += _enroll_chunk(campaign, now=now, account_range=account_range)
        # Survey campaigns: invitations for the new active enrollments (may suppress some at send time).
        invited += invite_new_enrollments(campaign, now=now, checkpoint=checkpoint)
        if checkpoint is not None:
            checkpoint()
    result = EnrollmentResult(
        campaign_id=campaign_id, campaign=campaign_name, created=created, invited=invited
    )
    if created:
        table = Enrollment.__table__
        counts = db.session.execute(
            select(table.c.status, table.c.suppression_reason, func.count())
            .where(table.c.campaign_id == campaign_id, table.c.enrolled_at == literal(now, UTCDateTime()))
            .group_by(table.c.status, table.c.suppression_reason)
        ).all()
        by_status: Counter[str] = Counter()
        by_reason: Counter[str] = Counter()
        for status, reason, count in counts:
            by_status[str(status)] += count
            if reason:
                by_reason[str(reason)] += count
        result.by_status = dict(sorted(by_status.items()))
        result.by_reason = dict(sorted(by_reason.items()))
    return result


def _enroll_chunk(campaign: Campaign, *, now: datetime, account_range: tuple[int, int] | None) -> int:
    """INSERT .. SELECT the new matches (of the accounts in range); the number of rows inserted."""
    source = candidates(
        TargetingRules.of(campaign), now=now, campaign_id=campaign.id, account_range=account_range
    ).subquery("new")
    rows = select(
        literal(campaign.id).label("campaign_id"),
        source.c.opportunity_id,
        source.c.contact_id,
        status_for(source.c.suppression_reason, pending=campaign.requires_approval).label("status"),
        source.c.suppression_reason,
        literal(now, UTCDateTime()).label("enrolled_at"),
    ).where(literal(True))
    table = Enrollment.__table__
    statement = (
        _insert(table)
        .from_select(
            ["campaign_id", "opportunity_id", "contact_id", "status", "suppression_reason", "enrolled_at"],
            rows,
        )
        .on_conflict_do_nothing(index_elements=["campaign_id", "opportunity_id", "contact_id"])
    )
    return db.session.execute(statement, execution_options={"preserve_rowcount": True}).rowcount


@dataclass(frozen=True)
class Forecast:
    """What activating (or resuming) a campaign would do within the next hour."""

    by_channel: dict[str, int]  # channel -> people contacted within the hour
    pending: int  # new matches that would wait for approval instead
    suppressed: int  # new matches that would be suppressed
    reminders: int  # reminders that fall due within the hour

    @property
    def contacted(self) -> int:
        return sum(self.by_channel.values())


def activation_forecast(campaign: Campaign, *, now: datetime) -> Forecast:
    """How many people activating the campaign contacts in the next hour, and by which channel.

    The worker enrolls new matches every few minutes, so every eligible match counts; with approval
    on they wait instead. Survey-then-call campaigns call only those who did not answer, days later.
    """
    db.session.flush()
    source = candidates(TargetingRules.of(campaign), now=now, campaign_id=campaign.id).subquery()
    rows = db.session.execute(
        select(source.c.suppression_reason.is_(None), func.count()).group_by(
            source.c.suppression_reason.is_(None)
        )
    ).all()
    counts = {bool(reachable): count for reachable, count in rows}
    eligible, suppressed = counts.get(True, 0), counts.get(False, 0)
    waiting = db.session.scalar(
        select(func.count())
        .select_from(Enrollment)
        .where(
            Enrollment.campaign_id == campaign.id,
            Enrollment.status == EnrollmentStatus.ACTIVE,
            Enrollment.invitation_id.is_(None),
        )
    )
    first = campaign.contact_channel
    if campaign.kind is CampaignKind.CALL:
        waiting = 0  # active call enrollments are already in the queue
    reminders = 0
    if campaign.kind is not CampaignKind.CALL and campaign.activated_at is not None:
        due = [invitation.id for invitation in due_reminders(now=now + timedelta(hours=1))]
        reminders = (
            db.session.scalar(
                select(func.count())
                .select_from(Enrollment)
                .where(
                    Enrollment.campaign_id == campaign.id,
                    Enrollment.status == EnrollmentStatus.ACTIVE,
                    Enrollment.invitation_id.in_(due),
                )
            )
            if due
            else 0
        )
    new = 0 if campaign.requires_approval else eligible
    by_channel = {first.value: new + waiting + reminders} if new + waiting + reminders else {}
    return Forecast(
        by_channel=by_channel,
        pending=eligible if campaign.requires_approval else 0,
        suppressed=suppressed,
        reminders=reminders,
    )


def pending_count(campaign_id: int) -> tuple[int, int | None]:
    """How many enrollments of a campaign wait for approval, and the newest one's id."""
    count, newest = db.session.execute(
        select(func.count(), func.max(Enrollment.id)).where(
            Enrollment.campaign_id == campaign_id, Enrollment.status == EnrollmentStatus.PENDING
        )
    ).one()
    return count, newest


def approve_pending(campaign: Campaign, *, now: datetime, up_to_id: int | None = None) -> Approval:
    """Approve the enrollments waiting in an active campaign: they become active and are invited.

    With up_to_id only those the admin was shown (ids up to it) are approved, not matches enrolled
    since the page was drawn.
    """
    if campaign.status is not CampaignStatus.ACTIVE:
        raise CampaignStateError(
            f"Approved contacts are reached at once, so the campaign must be active; "
            f"{campaign.name} is {campaign.status.value}."
        )
    statement = update(Enrollment).where(
        Enrollment.campaign_id == campaign.id, Enrollment.status == EnrollmentStatus.PENDING
    )
    if up_to_id is not None:
        statement = statement.where(Enrollment.id <= up_to_id)
    approved = db.session.execute(
        statement.values(status=EnrollmentStatus.ACTIVE, status_changed_at=now),
        execution_options={"synchronize_session": False, "preserve_rowcount": True},
    ).rowcount
    invited = invite_new_enrollments(campaign, now=now)
    return Approval(approved=approved, invited=invited)


def enroll_active_campaigns(
    *, now: datetime, checkpoint: Callable[[], object] | None = None
) -> list[EnrollmentResult]:
    """What the worker calls every few minutes, and `flask campaigns enroll`: every active campaign."""
    campaigns = db.session.scalars(
        select(Campaign).where(Campaign.status == CampaignStatus.ACTIVE).order_by(Campaign.id)
    ).all()
    return [enroll_campaign(campaign, now=now, checkpoint=checkpoint) for campaign in campaigns]


def run_periodic_enrollment(
    *, now: datetime, checkpoint: Callable[[], object] | None = None
) -> dict[str, int]:
    """The worker's periodic job: enroll new matches, invite them, and queue the reminders due.

    The worker passes its commit as `checkpoint`: the work is committed in chunks of a few thousand.
    """
    results = enroll_active_campaigns(now=now, checkpoint=checkpoint)
    return {
        "enrolled": sum(result.created for result in results),
        "invited": sum(result.invited for result in results),
        "reminders": send_campaign_reminders(now=now, checkpoint=checkpoint),
    }


def preview_rules(rules: TargetingRules, *, now: datetime) -> Preview:
    """How many deals and contacts the rules match, and how many would be suppressed and why."""
    deals = db.session.scalar(
        select(func.count()).select_from(matched_opportunities(rules, now=now).subquery())
    )
    source = candidates(rules, now=now).subquery()
    rows = db.session.execute(  # one aggregate pass: counts by reason, and the preview contact
        select(source.c.suppression_reason, func.count(), func.min(source.c.contact_id)).group_by(
            source.c.suppression_reason
        )
    ).all()
    by_reason = {str(reason): count for reason, count, _ in rows if reason is not None}
    eligible = sum(count for reason, count, _ in rows if reason is None)
    first_eligible = next((first for reason, _, first in rows if reason is None), None)
    suppressed = sum(by_reason.values())
    amount_rule = rules.amount_min is not None or rules.amount_max is not None
    return Preview(
        deals=deals or 0,
        contacts=eligible + suppressed,
        eligible=eligible,
        suppressed=suppressed,
        by_reason=dict(sorted(by_reason.items())),
        currency=reporting_currency() if amount_rule else None,
        no_rate=deals_without_rate(rules, now=now) if amount_rule else 0,
        first_eligible_contact_id=first_eligible,
    )


def enrollment_counts(campaign_id: int) -> tuple[dict[str, int], dict[str, int]]:
    """Enrollments of a campaign by status, and the suppressed ones by reason."""
    rows = db.session.execute(
        select(Enrollment.status, Enrollment.suppression_reason, func.count())
        .where(Enrollment.campaign_id == campaign_id)
        .group_by(Enrollment.status, Enrollment.suppression_reason)
    ).all()
    by_status: Counter[str] = Counter()
    by_reason: Counter[str] = Counter()
    for status, reason, count in rows:
        by_status[status.value] += count
        if reason is not None:
            by_reason[reason.value] += count
    return dict(by_status), dict(by_reason)


def _campaign_ids_using(channel: Channel | None):
    if channel is None:
        return select(Campaign.id)
    if channel is Channel.CALL:
        return select(Campaign.id).where(Campaign.kind.in_([CampaignKind.CALL, CampaignKind.BOTH]))
    return select(Campaign.id).where(
        Campaign.kind.in_([CampaignKind.SURVEY, CampaignKind.BOTH]), Campaign.survey_channel == channel
    )


def mark_completed(invitation_id: int, *, now: datetime) -> int:
    """The survey of this invitation was answered: its enrollment is done (no reminder, no call)."""
    statement = (
        update(Enrollment)
        .where(Enrollment.invitation_id == invitation_id, Enrollment.status == EnrollmentStatus.ACTIVE)
        .values(status=EnrollmentStatus.COMPLETED, status_changed_at=now)
    )
    return db.session.execute(statement, execution_options={"synchronize_session": False}).rowcount


def mark_opted_out(contact_id: int, *, channel: Channel | None, now: datetime) -> int:
    """End the contact's active enrollments in every campaign that reaches them on that channel."""
    statement = (
        update(Enrollment)
        .where(
            Enrollment.contact_id == contact_id,
            Enrollment.status.in_([EnrollmentStatus.ACTIVE, EnrollmentStatus.PENDING]),
            Enrollment.campaign_id.in_(_campaign_ids_using(channel)),
        )
        .values(status=EnrollmentStatus.OPTED_OUT, status_changed_at=now)
    )
    return db.session.execute(statement, execution_options={"synchronize_session": False}).rowcount
