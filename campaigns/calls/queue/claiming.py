"""Claiming the next call (the reservation): one atomic statement per claim.

On PostgreSQL `FOR UPDATE SKIP LOCKED` in the sub-select, on SQLite a compare-and-set `UPDATE ... WHERE
status = 'ready'` whose row count says whether it won. A partial unique index allows one lease per
contact and one per caller. Nothing holds a transaction open during a call: the lease is a row, and it
expires.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, exists, inspect, literal_column, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from app.auth.models import User
from app.crm.models import Contact
from app.extensions import db
from app.messaging.suppression import callable_by_phone
from campaigns.calls.health import number_is_held
from campaigns.calls.models import CallAttempt, CallTask, TaskStatus
from campaigns.calls.queue.leases import DEFAULT_LEASE_SECONDS, release_expired_leases
from campaigns.calls.queue.scope import CallingMargins, ClaimCache, ClaimScope, caller_campaigns, claim_scope

_TASKS = CallTask.__table__
_OTHER = _TASKS.alias("other_task")
_ATTEMPTS = CallAttempt.__table__.alias("recent_attempt")
_HELD_CONTACT = Contact.__table__.alias("held_contact")
_CLAIM_COLUMNS = [column.key for column in CallTask.__mapper__.column_attrs]


def _inline(ids) -> list:
    return [literal_column(str(int(id_))) for id_ in ids]


def _claim_statement(scope: ClaimScope, *, postgresql: bool):
    """The claim as one Core UPDATE ... RETURNING, built once per scope and reused.

    The caller, the time, the lease expiry and the start of the contact spacing are bind parameters
    (`claim_caller`, `claim_now`, `claim_expires`, `claim_spaced_since`), so the same statement object
    (and its compiled form, and the server's prepared statement) serves every claim while the scope holds.
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
        # Nobody who must not be called: the do-not-contact list and opt-outs may have changed since
        # the task was queued, so the claim asks again.
        callable_by_phone(tasks.c.contact_id, postgresql=postgresql),
        # Nor a held number (failed on too many days, in any campaign), nor a contact's wrong number.
        ~exists().where(
            _HELD_CONTACT.c.id == tasks.c.contact_id,
            number_is_held(_HELD_CONTACT.c.id, _HELD_CONTACT.c.phone, now),
        ),
        # One contact is not called twice within the spacing, across campaigns and whatever their
        # cool-down; a callback is exempt (the contact asked for that time).
        or_(
            tasks.c.callback_at.is_not(None),
            ~exists().where(
                _ATTEMPTS.c.contact_id == tasks.c.contact_id,
                _ATTEMPTS.c.started_at > bindparam("claim_spaced_since", type_=_ATTEMPTS.c.started_at.type),
            ),
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
    margins: CallingMargins | None = None,
) -> CallTask | None:
    """Lease the caller the best due task of their campaigns whose contact is inside calling hours now.

    One statement: on PostgreSQL its sub-select takes the row with FOR UPDATE SKIP LOCKED; on SQLite the
    UPDATE re-checks status = 'ready' under the write lock (compare and set). A caller holds one task at
    a time (a partial unique index): asking again returns the task already held, lease renewed.
    Personal callbacks go to their owner first. Suppressed contacts are never offered, nor a contact
    called less than the spacing ago, nor a zone whose window closes within the end margin (`margins`:
    the cache's when a cache is given, else these, else the app's settings). Returns None when nothing is due.

    Call it at the start of a unit of work: when the database refuses a lease (the caller already holds
    one, or another caller just leased the same contact elsewhere) the session is rolled back.
    """
    if cache is None or cache.release_due(now):
        release_expired_leases(now=now)
    caller_id = _caller_id(caller)
    if cache is not None:
        margins = cache.margins  # the scope the cache keeps was computed with them
    elif margins is None:
        margins = CallingMargins.from_config()
    scope = (
        cache.scope(caller_id, now=now)
        if cache is not None
        else claim_scope(caller_campaigns(caller_id), now=now, end_margin=margins.window_end)
    )
    if scope.empty:
        return _renew_held(caller, now=now, lease_seconds=lease_seconds)
    statement = _claim_statement(scope, postgresql=db.engine.dialect.name == "postgresql")
    parameters = {
        "claim_caller": caller_id,
        "claim_now": now,
        "claim_expires": now + timedelta(seconds=lease_seconds),
        "claim_spaced_since": now - margins.contact_spacing,
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
