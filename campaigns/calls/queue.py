"""Filling the queue and claiming from it (the hopper and the reservation, as two steps).

Filling creates one CallTask per active enrollment of a calls campaign (for "survey, then calls", once
the survey has gone unanswered for the campaign's wait). Claiming is one atomic statement: on PostgreSQL
`FOR UPDATE SKIP LOCKED` in the sub-select, on SQLite a compare-and-set `UPDATE ... WHERE status =
'ready'` whose row count says whether it won. A partial unique index allows one lease per contact and
one per caller. Nothing holds a transaction open during a call: the lease is a row, and it expires.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, bindparam, exists, func, insert, inspect, literal_column, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from app.auth.models import User
from app.crm.models import Contact, Opportunity
from app.errors import Conflict
from app.extensions import db
from campaigns.calls.hours import Window, campaign_window, key_is_open, zone_key
from campaigns.calls.models import CallAttempt, CallTask, TaskStatus, TimeZoneSet
from campaigns.models import (
    Campaign,
    CampaignKind,
    CampaignStatus,
    Enrollment,
    EnrollmentStatus,
    campaign_callers,
)
from surveys.models import Invitation

DEFAULT_LEASE_SECONDS = 15 * 60
CALLBACK_BOOST = 400_000_000  # callbacks before fresh tasks; personal ones (2x) before the rest
CALL_KINDS = (CampaignKind.CALL, CampaignKind.BOTH)


class LeaseLost(Conflict):
    code = "lease_lost"


# --------------------------------------------------------------------------------------------- fill


def base_priority(amount: Decimal | None, close_date: date | None, *, today: date) -> int:
    """Bigger deals first, then the ones lost most recently."""
    thousands = min(int((amount or 0) // 1000), 99_998)
    age = (today - close_date).days if close_date else 999
    return thousands * 1000 + max(0, 999 - min(max(age, 0), 999))


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
            Contact.phone,
            Contact.timezone,
            Opportunity.amount,
            Opportunity.close_date,
        )
        .join(Contact, Contact.id == Enrollment.contact_id)
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
    for enrollment_id, contact_id, phone, timezone, amount, close_date in _enrollments_to_queue(
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
                "zone_set_id": zone_sets.id_for(zone_key(phone, timezone)),
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
        select(CallTask.id, Contact.phone, Contact.timezone)
        .join(Contact, Contact.id == CallTask.contact_id)
        .where(
            CallTask.campaign_id == campaign.id,
            CallTask.status == TaskStatus.READY,
            CallTask.zone_set_id.is_(None),
        )
    ).all()
    for task_id, phone, timezone in stuck:
        zone_set_id = zone_sets.id_for(zone_key(phone, timezone))
        if zone_set_id is not None:
            db.session.execute(update(CallTask).where(CallTask.id == task_id).values(zone_set_id=zone_set_id))
            result.zones_updated += 1
    return result


def fill_queue(*, now: datetime, campaign: Campaign | None = None) -> list[FillResult]:
    """What `flask calls fill` and the worker run: every active calls campaign, or one. Idempotent."""
    release_expired_leases(now=now)
    if campaign is not None:
        campaigns = [campaign]
    else:
        campaigns = list(
            db.session.scalars(
                select(Campaign)
                .where(Campaign.status == CampaignStatus.ACTIVE, Campaign.kind.in_(CALL_KINDS))
                .order_by(Campaign.id)
            )
        )
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


# -------------------------------------------------------------------------------------------- leases


def release_expired_leases(*, now: datetime) -> int:
    """Leases whose caller vanished go back to the queue, history intact; their open attempts end.

    The next caller starts an attempt of their own: nothing they record lands on the one abandoned.
    """
    expired = select(CallTask.id).where(
        CallTask.status == TaskStatus.LEASED, CallTask.lease_expires_at <= now
    )
    db.session.execute(
        update(CallAttempt)
        .where(
            CallAttempt.task_id.in_(expired),
            CallAttempt.disposition.is_(None),
            CallAttempt.abandoned_at.is_(None),
        )
        .values(abandoned_at=now, ended_at=func.coalesce(CallAttempt.ended_at, now)),
        execution_options={"synchronize_session": False},
    )
    statement = (
        update(CallTask)
        .where(CallTask.status == TaskStatus.LEASED, CallTask.lease_expires_at <= now)
        .values(status=TaskStatus.READY, leased_by_id=None, leased_at=None, lease_expires_at=None)
    )
    return db.session.execute(statement, execution_options={"synchronize_session": False}).rowcount


def release_task(task: CallTask) -> None:
    task.status = TaskStatus.READY
    task.leased_by_id = None
    task.leased_at = None
    task.lease_expires_at = None


def held_task(caller: User, *, now: datetime) -> CallTask | None:
    return db.session.scalar(
        select(CallTask).where(
            CallTask.status == TaskStatus.LEASED,
            CallTask.leased_by_id == caller.id,
            CallTask.lease_expires_at > now,
        )
    )


def touch_lease(task: CallTask, caller: User, *, now: datetime, lease_seconds: int) -> None:
    """The caller is still on the task: keep it theirs. Raises LeaseLost once it went back to the queue.

    A task back in the queue (released, or retried later) is never taken back by touching it: only a
    claim through the queue leases it again.
    """
    if task.status is TaskStatus.LEASED and task.leased_by_id == caller.id:
        task.lease_expires_at = now + timedelta(seconds=lease_seconds)
        return
    raise LeaseLost("This call is no longer yours: its lease expired and it went back to the queue.")


# -------------------------------------------------------------------------------------------- claim


@dataclass
class ClaimScope:
    """Which tasks a caller may be given now: per campaign, the zone sets inside its calling window."""

    open_sets: dict[int, list[int]] = field(default_factory=dict)
    # The claim statement for this scope, per backend (True: PostgreSQL), built on first use.
    statements: dict[bool, object] = field(default_factory=dict, compare=False, repr=False)

    @property
    def empty(self) -> bool:
        return not any(self.open_sets.values())


def caller_campaigns(caller: User | int) -> list[Campaign]:
    caller_id = caller if isinstance(caller, int) else caller.id
    return list(
        db.session.scalars(
            select(Campaign)
            .join(campaign_callers, campaign_callers.c.campaign_id == Campaign.id)
            .where(
                campaign_callers.c.user_id == caller_id,
                Campaign.status == CampaignStatus.ACTIVE,
                Campaign.kind.in_(CALL_KINDS),
            )
            .order_by(Campaign.id)
        )
    )


def claim_scope(campaigns: Iterable[Campaign], *, now: datetime) -> ClaimScope:
    zone_sets = db.session.execute(select(TimeZoneSet.id, TimeZoneSet.zones)).all()
    return _scope([(campaign.id, campaign_window(campaign)) for campaign in campaigns], zone_sets, now=now)


def _scope(windows: Iterable[tuple[int, Window]], zone_sets, *, now: datetime) -> ClaimScope:
    scope = ClaimScope()
    for campaign_id, window in windows:
        scope.open_sets[campaign_id] = [id_ for id_, key in zone_sets if key_is_open(key, window, now)]
    return scope


@dataclass
class ClaimCache:
    """What a claim reads besides the queue, kept a few seconds per process (on app.extensions).

    The zone sets, each caller's campaigns, and when expired leases were last released: with them warm,
    a claim is one UPDATE and a COMMIT. A change of assignment or window shows within `ttl` seconds.
    """

    ttl: float = 10.0
    zone_sets: list = field(default_factory=list)
    zone_sets_at: float = -1e9
    windows: dict[int, tuple[float, list[tuple[int, Window]]]] = field(default_factory=dict)
    released_at: datetime | None = None
    scopes: dict[tuple, ClaimScope] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # Per caller: (windows read at, zone sets, UTC minute, scope), the scope their last claim used.
    recent: dict[int, tuple[float, list, datetime, ClaimScope]] = field(default_factory=dict)

    def scope(self, caller_id: int, *, now: datetime) -> ClaimScope:
        clock = time.monotonic()
        # Windows start and end on whole minutes, and every zone's offset is whole minutes: the open
        # zone sets stay the same for the whole UTC minute.
        minute = now.replace(second=0, microsecond=0)
        with self.lock:
            recent = self.recent.get(caller_id)
            if (
                recent is not None
                and clock - recent[0] <= self.ttl
                and clock - self.zone_sets_at <= self.ttl
                and recent[1] is self.zone_sets
                and recent[2] == minute
            ):
                return recent[3]  # the common case: the same caller again within the minute
            if clock - self.zone_sets_at > self.ttl:
                self.zone_sets = db.session.execute(select(TimeZoneSet.id, TimeZoneSet.zones)).all()
                self.zone_sets_at = clock
            zone_sets = self.zone_sets
            cached = self.windows.get(caller_id)
        if cached is None or clock - cached[0] > self.ttl:
            cached = (
                clock,
                [(campaign.id, campaign_window(campaign)) for campaign in caller_campaigns(caller_id)],
            )
            with self.lock:
                self.windows[caller_id] = cached
        if self.ttl <= 0:
            return _scope(cached[1], zone_sets, now=now)
        key = (tuple(cached[1]), tuple(zone_sets), minute)
        with self.lock:
            scope = self.scopes.get(key)
        if scope is None:
            scope = _scope(cached[1], zone_sets, now=now)
            with self.lock:
                if len(self.scopes) > 1000:
                    self.scopes.clear()
                scope = self.scopes.setdefault(key, scope)
        with self.lock:
            self.recent[caller_id] = (cached[0], zone_sets, minute, scope)
        return scope

    def release_due(self, now: datetime) -> bool:
        with self.lock:
            if self.released_at is not None and abs((now - self.released_at).total_seconds()) < self.ttl:
                return False
            self.released_at = now
            return True


def claim_cache(app) -> ClaimCache:
    """The app's claim cache (created on first use)."""
    cache = app.extensions.get("calls.claim_cache")
    if cache is None:
        cache = app.extensions["calls.claim_cache"] = ClaimCache(
            float(app.config.get("CALL_SCOPE_CACHE_SECONDS", 10))
        )
    return cache


_TASKS = CallTask.__table__
_OTHER = _TASKS.alias("other_task")
_CLAIM_COLUMNS = [column.key for column in CallTask.__mapper__.column_attrs]


def _inline(ids) -> list:
    return [literal_column(str(int(id_))) for id_ in ids]


def _claim_statement(scope: ClaimScope, *, postgresql: bool):
    """The claim as one Core UPDATE ... RETURNING, built once per scope and reused.

    The caller, the time and the lease expiry are bind parameters (`claim_caller`, `claim_now`,
    `claim_expires`), so the same statement object (and its compiled form, and the server's prepared
    statement) serves every claim while the scope holds.
    """
    statement = scope.statements.get(postgresql)
    if statement is not None:
        return statement
    tasks, other = _TASKS, _OTHER
    caller = bindparam("claim_caller", type_=tasks.c.leased_by_id.type)
    now = bindparam("claim_now", type_=tasks.c.due_at.type)
    groups: dict[tuple[int, ...], list[int]] = {}
    for campaign_id, ids in scope.open_sets.items():
        if ids:
            groups.setdefault(tuple(ids), []).append(campaign_id)
    conditions = [
        tasks.c.status == literal_column(f"'{TaskStatus.READY.value}'"),
        tasks.c.due_at <= now,
        # Our own integer ids, inline: no expanding parameters to render again at every execution.
        or_(
            *[
                and_(tasks.c.campaign_id.in_(_inline(campaign_ids)), tasks.c.zone_set_id.in_(_inline(ids)))
                for ids, campaign_ids in groups.items()
            ]
        ),
        # Literal, so the partial unique index (status = 'leased') answers it.
        ~exists().where(
            other.c.contact_id == tasks.c.contact_id,
            other.c.status == literal_column(f"'{TaskStatus.LEASED.value}'"),
        ),
        or_(
            tasks.c.callback_owner_id.is_(None),
            tasks.c.callback_owner_id == caller,
            tasks.c.callback_release_at <= now,
        ),
    ]
    # Callbacks carry a priority boost (personal ones the most), so one index order serves every rule.
    pick = (
        select(tasks.c.id)
        .where(*conditions)
        .order_by(tasks.c.priority.desc(), tasks.c.due_at.desc())
        .limit(1)
    )
    if postgresql:
        pick = pick.with_for_update(skip_locked=True)
    statement = (
        update(tasks)
        .where(tasks.c.id == pick.scalar_subquery(), tasks.c.status == TaskStatus.READY)
        .values(
            status=TaskStatus.LEASED,
            leased_by_id=caller,
            leased_at=now,
            lease_expires_at=bindparam("claim_expires", type_=tasks.c.lease_expires_at.type),
        )
        .returning(*tasks.c)
    )
    scope.statements[postgresql] = statement
    return statement


def _leased_task(row) -> CallTask:
    """The claimed row as the session's CallTask, without a second query."""
    values = row._mapping
    task = db.session.identity_map.get(db.session.identity_key(CallTask, values["id"]))
    if task is None:
        task = CallTask.__mapper__.class_manager.new_instance()
        for key in _CLAIM_COLUMNS:
            set_committed_value(task, key, values[key])
        make_transient_to_detached(task)
        db.session.add(task)
        return task
    for key in _CLAIM_COLUMNS:
        set_committed_value(task, key, values[key])
    return task


def _caller_id(caller: User) -> int:
    """The caller's id, read from the identity key so an expired User is not reloaded for it."""
    identity = inspect(caller).identity
    return identity[0] if identity else caller.id


def _renew_held(caller: User, *, now: datetime, lease_seconds: int) -> CallTask | None:
    held = db.session.scalar(
        select(CallTask).where(
            CallTask.status == TaskStatus.LEASED, CallTask.leased_by_id == _caller_id(caller)
        )
    )
    if held is not None:
        held.lease_expires_at = now + timedelta(seconds=lease_seconds)
    return held


def claim_next_task(
    caller: User,
    *,
    now: datetime,
    lease_seconds: int = DEFAULT_LEASE_SECONDS,
    cache: ClaimCache | None = None,
    attempts: int = 5,
) -> CallTask | None:
    """Lease the caller the best due task of their campaigns whose contact is inside calling hours now.

    One statement: on PostgreSQL its sub-select takes the row with FOR UPDATE SKIP LOCKED; on SQLite the
    UPDATE re-checks status = 'ready' under the write lock (compare and set). A caller holds one task at
    a time (a partial unique index): asking again returns the task already held, lease renewed.
    Personal callbacks go to their owner first. Returns None when nothing is due.

    Call it at the start of a unit of work: when the database refuses a lease (the caller already holds
    one, or another caller just leased the same contact elsewhere) the session is rolled back.
    """
    if cache is None or cache.release_due(now):
        release_expired_leases(now=now)
    caller_id = _caller_id(caller)
    scope = (
        cache.scope(caller_id, now=now)
        if cache is not None
        else claim_scope(caller_campaigns(caller_id), now=now)
    )
    if scope.empty:
        return _renew_held(caller, now=now, lease_seconds=lease_seconds)
    statement = _claim_statement(scope, postgresql=db.engine.dialect.name == "postgresql")
    parameters = {
        "claim_caller": caller_id,
        "claim_now": now,
        "claim_expires": now + timedelta(seconds=lease_seconds),
    }
    for _ in range(attempts):
        try:
            row = db.session.connection().execute(statement, parameters).first()
        except IntegrityError:
            db.session.rollback()
            held = _renew_held(caller, now=now, lease_seconds=lease_seconds)
            if held is not None:
                return held
            continue  # the contact was leased by someone else an instant ago: take the next one
        if row is None:
            return _renew_held(caller, now=now, lease_seconds=lease_seconds)
        return _leased_task(row)
    return None


# -------------------------------------------------------------------------------------------- counts


@dataclass
class QueueCounts:
    ready_now: int = 0
    waiting_for_hours: int = 0
    leased: int = 0
    callbacks_due: int = 0
    exhausted: int = 0
    unknown_time_zone: int = 0
    scheduled: int = 0
    done: int = 0

    def to_json(self) -> dict[str, int]:
        return dict(self.__dict__)


def queue_counts(*, now: datetime, campaigns: list[Campaign] | None = None) -> QueueCounts:
    """The supervisor's live counts, over the given campaigns (every active calls campaign by default)."""
    if campaigns is None:
        campaigns = list(
            db.session.scalars(
                select(Campaign).where(
                    Campaign.status == CampaignStatus.ACTIVE, Campaign.kind.in_(CALL_KINDS)
                )
            )
        )
    counts = QueueCounts()
    if not campaigns:
        return counts
    scope = claim_scope(campaigns, now=now)
    ids = [campaign.id for campaign in campaigns]
    due_flag = CallTask.due_at <= now  # one object, so SELECT and GROUP BY share its parameter
    callback_flag = CallTask.callback_at.is_not(None)
    grouping = (CallTask.campaign_id, CallTask.status, CallTask.zone_set_id, due_flag, callback_flag)
    rows = db.session.execute(
        select(*grouping, func.count()).where(CallTask.campaign_id.in_(ids)).group_by(*grouping)
    ).all()
    for campaign_id, status, zone_set_id, due, callback, count in rows:
        if status is TaskStatus.LEASED:
            counts.leased += count
        elif status is TaskStatus.EXHAUSTED:
            counts.exhausted += count
        elif status in (TaskStatus.DONE, TaskStatus.CANCELLED):
            counts.done += count
        elif zone_set_id is None:
            counts.unknown_time_zone += count
        elif not due:
            counts.scheduled += count
        else:
            if callback:
                counts.callbacks_due += count
            if zone_set_id in scope.open_sets.get(campaign_id, ()):
                counts.ready_now += count
            else:
                counts.waiting_for_hours += count
    return counts


def callback_priority(priority: int, *, personal: bool) -> int:
    """A callback's priority: above every fresh task, a personal one above callbacks for anyone."""
    return priority % CALLBACK_BOOST + (2 if personal else 1) * CALLBACK_BOOST


def callbacks_due_today(caller: User, *, now: datetime) -> list[CallTask]:
    end = now + timedelta(hours=24)
    return list(
        db.session.scalars(
            select(CallTask)
            .where(
                CallTask.status.in_([TaskStatus.READY, TaskStatus.LEASED]),
                CallTask.callback_owner_id == caller.id,
                CallTask.callback_at <= end,
            )
            .order_by(CallTask.callback_at)
        )
    )
