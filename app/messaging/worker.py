"""The outbox worker: claim due messages, send them, record the outcome; and run periodic jobs.

Delivery is at most once per message the provider accepted. The worker works in batches:

1. claim: `WITH due AS MATERIALIZED (SELECT .. ORDER BY .. LIMIT n FOR UPDATE SKIP LOCKED) UPDATE ..
   SET status='sending', claimed_by, claimed_at, provider_id FROM due` and commit, so two workers
   never hold the same row and a claim never takes more than n rows (SQLite serialises writers). An
   email's Message-ID is fixed by its row (`<outbox-{id}@{MAIL_FROM domain}>`), so the claim already
   records it as the provider id, before anything is sent;
2. for each message, on a connection of its own in autocommit (see _ledger), ONE statement and one
   commit records the outcomes so far and this row's attempt (`send_started_at`, with the
   row's `claimed_at`), guarded by `claimed_by = me`; a row the worker no longer holds is skipped.
   On PostgreSQL that commit does not wait for the disk (synchronous_commit off): the claim records
   the server's start time, and after a server crash every row of an earlier claim counts as maybe
   sent, so a lost marker can never make a sent message look untried.
   The claim on the rest of the batch is renewed by the same statement when it is older than a
   tenth of OUTBOX_STALE_SECONDS (not at every message: that rewrote every untried row each time).
   Then the transport is called (with a timeout well under OUTBOX_STALE_SECONDS). A batch whose age
   reaches half the stale limit stops and gives its untried rows back to the queue;
3. the last outcomes are recorded, failures and cancellations committed through the session.

A worker killed mid-batch leaves at most one row that was in flight (`send_started_at` set) and the
rows it never tried. `reconcile_stale_messages` takes the rows whose claim was not renewed for
OUTBOX_STALE_SECONDS and never resends them blindly:
- never tried: queued again (but after a crash of the database server every unsettled row of a
  claim made before it counts as in flight: its marker may be lost);
- SMS in flight: Twilio is asked (by SID, or by recipient, body and time when the SID was not
  recorded); a message Twilio has is marked sent with its SID, one it does not have is queued again.
- Email in flight: SMTP cannot be asked whether it accepted a message, so the row becomes `unknown`
  (shown in the outbox for a person to resend or drop). A duplicate email is worse than a person looking.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask, current_app
from sqlalchemy import String, bindparam, case, cast, false, func, literal, null, select, text, update
from sqlalchemy.engine import Connection

from app.crm.models import Channel, Contact
from app.db_types import utcnow
from app.extensions import db
from app.messaging.models import MessageStatus, OutboundMessage
from app.messaging.service import opt_out_contact
from app.messaging.suppression import SuppressionCheck
from app.messaging.transports import (
    DeliveryError,
    SendResult,
    Transports,
    message_id_domain,
    transports_from_config,
)

log = logging.getLogger("winback.worker")

DEFAULT_MAX_ATTEMPTS = 6
DEFAULT_BACKOFF_SECONDS = 60  # 1, 2, 4, 8, 16 minutes...
MAX_BACKOFF_SECONDS = 6 * 3600
DEFAULT_STALE_SECONDS = 600


# ------------------------------------------------------------------------------------- periodic jobs


@dataclass
class PeriodicJob:
    name: str
    every_seconds: float
    func: Callable[[datetime], object]


PERIODIC_JOBS_KEY = "winback.periodic_jobs"


def _registry(app: Flask) -> dict[str, PeriodicJob]:
    return app.extensions.setdefault(PERIODIC_JOBS_KEY, {})


def register_periodic_job(
    app: Flask, name: str, every_seconds: float, func: Callable[[datetime], object]
) -> None:
    """Have every worker of `app` run func(now) about every `every_seconds`, in an app context.

    The registry lives on the app (`app.extensions`), so two apps in one process keep their own jobs.
    The worker commits after func returns and rolls back if it raises. On PostgreSQL one worker at a
    time runs a given job (an advisory lock); jobs must still be idempotent (enrollment, reminders),
    and should commit their own work in bounded chunks when it can be large (SQLite has one writer).
    Registering the same name again replaces the job.
    """
    if every_seconds <= 0:
        raise ValueError("every_seconds must be positive")
    _registry(app)[name] = PeriodicJob(name, every_seconds, func)


def unregister_periodic_job(app: Flask, name: str) -> None:
    _registry(app).pop(name, None)


def periodic_jobs(app: Flask) -> list[PeriodicJob]:
    return list(_registry(app).values())


def _advisory_key(name: str) -> int:
    import zlib

    return zlib.crc32(f"winback-job:{name}".encode())


def run_due_jobs(*, now: datetime, last_runs: dict[str, datetime] | None = None) -> list[str]:
    """Run the registered jobs whose interval has passed; returns the names run.

    `last_runs` (job name -> time) is the caller's own schedule, updated here: each Worker keeps
    one, so two workers of one app (or one app used by many tests) never share it. Without it,
    every job is due.
    """
    last_runs = {} if last_runs is None else last_runs
    ran = []
    for job in periodic_jobs(current_app):
        last_run = last_runs.get(job.name)
        if last_run is not None and (now - last_run).total_seconds() < job.every_seconds:
            continue
        last_runs[job.name] = now
        try:
            with _job_lock(job.name) as locked:
                if not locked:
                    continue
                job.func(now)
                db.session.commit()
            ran.append(job.name)
        except Exception:
            db.session.rollback()
            log.exception("periodic job %s failed", job.name)
    return ran


@contextlib.contextmanager
def _job_lock(name: str) -> Iterator[bool]:
    """PostgreSQL: one worker at a time runs a job, even one that commits in chunks as it goes.

    A session-level advisory lock on a connection of its own (autocommit), held for the whole job:
    a transaction-level lock would be released by the job's first intermediate commit.
    """
    if db.engine.dialect.name != "postgresql":
        yield True
        return
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        key = {"k": _advisory_key(name)}
        locked = bool(connection.scalar(text("SELECT pg_try_advisory_lock(:k)"), key))
        try:
            yield locked
        finally:
            if locked:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), key)


# ------------------------------------------------------------------------------------------ delivery


@dataclass
class DeliveryStats:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    cancelled: int = 0
    reconciled: int = 0
    released: int = 0  # untried rows given back to the queue by a batch that ran out of time

    def add(self, other: DeliveryStats) -> None:
        for name in ("sent", "failed", "retried", "cancelled", "reconciled", "released"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _claimed_message_id(domain: str):
    """SQL for transports.message_id_for: `<outbox-{id}@{domain}>` (`||` on PostgreSQL and SQLite)."""
    return literal("<outbox-") + cast(OutboundMessage.id, String) + literal(f"@{domain}>")


def _server_epoch():
    """When the database server last started (PostgreSQL), in SQL; NULL elsewhere."""
    if db.engine.dialect.name == "postgresql":
        return func.pg_postmaster_start_time()
    return null()


def claim_due_messages(
    *, worker_id: str, now: datetime, limit: int = 50, mail_from: str | None = None
) -> list[int]:
    """Claim up to `limit` due messages for this worker and commit; other workers skip them.

    The same statement records each email's Message-ID as its provider id, so a row left `sending`
    by a worker that died already names the email a person may look for.
    """
    domain = message_id_domain(mail_from or current_app.config["MAIL_FROM"])
    due = (
        select(OutboundMessage.id)
        .where(OutboundMessage.status == MessageStatus.QUEUED, OutboundMessage.next_attempt_at <= now)
        .order_by(OutboundMessage.next_attempt_at, OutboundMessage.id)
        .limit(limit)
    )
    claim = update(OutboundMessage).values(
        status=MessageStatus.SENDING,
        claimed_by=worker_id,
        claimed_at=now,
        send_started_at=None,
        claim_server_epoch=_server_epoch(),
        attempts=OutboundMessage.attempts + 1,
        provider_id=case(
            (OutboundMessage.channel == Channel.EMAIL, _claimed_message_id(domain)),
            else_=OutboundMessage.provider_id,
        ),
    )
    if db.engine.dialect.name == "postgresql":
        # The locked rows are chosen once, in a materialized CTE. Under `id IN (subquery)` the planner
        # may run the LIMIT .. SKIP LOCKED subquery again (a rescan or a recheck of a row another worker
        # just changed), each run skipping different rows, so one claim could take far more than `limit`.
        chosen = due.with_for_update(skip_locked=True).cte("due").prefix_with("MATERIALIZED")
        claim = claim.where(OutboundMessage.id == chosen.c.id)
    else:  # SQLite renders no lock: its single writer serialises claims
        claim = claim.where(OutboundMessage.id.in_(due.scalar_subquery()))
    claimed = db.session.scalars(
        claim.where(OutboundMessage.status == MessageStatus.QUEUED).returning(OutboundMessage.id),
        execution_options={"synchronize_session": False},
    ).all()
    db.session.commit()
    return sorted(claimed)


def retry_time(attempts: int, *, now: datetime, base_seconds: float) -> datetime:
    """Exponential backoff: base, 2x base, 4x base..., capped at six hours."""
    delay = min(base_seconds * (2 ** max(attempts - 1, 0)), MAX_BACKOFF_SECONDS)
    return now + timedelta(seconds=delay)


def _transport_for(transports: Transports, message: OutboundMessage):
    if message.channel is Channel.WEBHOOK:
        if transports.webhook is None:
            from app.messaging.transports import WebhookTransport

            transports.webhook = WebhookTransport()
        return transports.webhook
    return transports.sms if message.channel is Channel.SMS else transports.email


def deliver_claimed(
    message_ids: list[int],
    transports: Transports,
    *,
    worker_id: str,
    clock: Callable[[], datetime] = utcnow,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    backoff_seconds: float = DEFAULT_BACKOFF_SECONDS,
    release_at: datetime | None = None,
    renew_seconds: float | None = None,
) -> DeliveryStats:
    """Send a batch this worker claimed, recording each attempt before it is made; returns what happened.

    Contacts and matching do-not-contact entries are read for the whole batch (two queries); sends
    happen outside any open transaction. Before each send one commit records the outcomes so far and
    marks the attempt, renewing the claim on the batch every `renew_seconds` (default: a tenth of
    OUTBOX_STALE_SECONDS); a row another worker took back is not sent. Once the
    clock reaches `release_at` the batch stops and its untried rows go back to the queue. A message
    that cannot be built or sent for an unexpected reason fails alone, with the reason recorded.
    """
    stats = DeliveryStats()
    if not message_ids:
        return stats
    if renew_seconds is None:
        renew_seconds = float(current_app.config.get("OUTBOX_STALE_SECONDS", DEFAULT_STALE_SECONDS)) / 10
    session = db.session()
    # Objects stay usable after the commits (no reload per attribute).
    expire_on_commit, session.expire_on_commit = session.expire_on_commit, False
    try:
        _deliver_batch(
            message_ids,
            transports,
            stats,
            worker_id=worker_id,
            clock=clock,
            max_attempts=max_attempts,
            backoff_seconds=backoff_seconds,
            release_at=release_at,
            renew_every=timedelta(seconds=renew_seconds),
        )
    finally:
        session.expire_on_commit = expire_on_commit
        db.session.expire_all()
    return stats


def _deliver_batch(
    message_ids: list[int],
    transports: Transports,
    stats: DeliveryStats,
    *,
    worker_id: str,
    clock: Callable[[], datetime],
    max_attempts: int,
    backoff_seconds: float,
    release_at: datetime | None,
    renew_every: timedelta,
) -> None:
    messages = db.session.scalars(
        select(OutboundMessage)
        .where(
            OutboundMessage.id.in_(message_ids),
            OutboundMessage.status == MessageStatus.SENDING,
            OutboundMessage.claimed_by == worker_id,
        )
        .order_by(OutboundMessage.id)
    ).all()
    contact_ids = {m.contact_id for m in messages if m.contact_id}
    contacts = (
        {c.id: c for c in db.session.scalars(select(Contact).where(Contact.id.in_(contact_ids)))}
        if contact_ids
        else {}
    )
    suppression = SuppressionCheck.load(contacts.values())
    db.session.commit()  # end the read transaction: nothing stays open while the providers are slow

    with _ledger() as ledger:
        _send_each(
            messages,
            contacts,
            suppression,
            transports,
            stats,
            ledger,
            worker_id=worker_id,
            clock=clock,
            max_attempts=max_attempts,
            backoff_seconds=backoff_seconds,
            release_at=release_at,
            renew_every=renew_every,
        )


@contextlib.contextmanager
def _ledger() -> Iterator[Connection]:
    """A connection of its own, in autocommit, for the per-message records: one round trip each.

    On PostgreSQL its commits do not wait for the WAL to reach the disk (synchronous_commit off):
    waiting cost one fsync per message, most of a worker's time (the outbox bench: about 60 against
    500 messages a second). Other sessions see the records at once, so a worker that dies loses
    nothing. Only a crash of the database server loses them, and then a suffix of the WAL: the marker
    of message k lost means every later record is lost too, while the claim (committed durably by
    claim_due_messages) survives, so row k looks "claimed, never tried". The claim therefore records
    the server's start time (claim_server_epoch), and the reconciler treats every unsettled row of a
    claim made before the server last started as maybe sent: looked up (SMS) or left for a person
    (email), never queued again blindly. The cost of a server crash is a few `unknown` emails, not
    a duplicate. (With an asynchronous standby, a failover can lose committed records with either
    setting; run a synchronous standby if the outbox must survive one.)

    The outcomes ride along in the marker's statement: a lost `sent` leaves the row marked, "maybe
    sent", never resent blindly.
    """
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        postgresql = connection.dialect.name == "postgresql"
        if postgresql:
            connection.exec_driver_sql("SET synchronous_commit TO off")
        try:
            yield connection
        finally:
            if postgresql and not connection.invalidated:
                connection.exec_driver_sql("RESET synchronous_commit")  # the pool reuses the connection


def _commit_session() -> None:
    """Commit what the session holds (failures, cancellations, opt-outs) before the ledger writes:
    on SQLite an open write transaction of the session would make the ledger wait for it."""
    session = db.session()
    if session.new or session.dirty or session.deleted or session.in_transaction():
        session.commit()


def _send_each(
    messages: list[OutboundMessage],
    contacts: dict[int, Contact],
    suppression: SuppressionCheck,
    transports: Transports,
    stats: DeliveryStats,
    ledger: Connection,
    *,
    worker_id: str,
    clock: Callable[[], datetime],
    max_attempts: int,
    backoff_seconds: float,
    release_at: datetime | None,
    renew_every: timedelta,
) -> None:
    sent: list[tuple[OutboundMessage, SendResult]] = []  # accepted, not yet recorded
    renewed_at: datetime | None = None  # the first attempt renews the claim on the whole batch
    for index, message in enumerate(messages):
        if release_at is not None and clock() >= release_at:
            _commit_session()
            _flush_sent(sent, ledger, worker_id=worker_id, now=clock(), stats=stats)
            stats.released += _release_untried([m.id for m in messages[index:]], ledger, worker_id=worker_id)
            log.warning("worker %s: batch ran out of time; %d queued again", worker_id, stats.released)
            return
        contact = contacts.get(message.contact_id) if message.contact_id else None
        if contact is not None:
            # In memory: also sees an opt-out made earlier in this batch (Twilio 21610).
            reason = suppression.reason(contact, message.channel)
            if reason is not None:  # things change between enqueue and send
                message.cancel(f"suppressed at send time: {reason.value}")
                stats.cancelled += 1
                continue
        now = clock()
        _commit_session()
        renew = renewed_at is None or now - renewed_at >= renew_every
        if renew:
            renewed_at = now
        # The attempt is on record (durably, with the outcomes so far) before the provider is called.
        still_mine = _record_and_start(
            sent,
            message,
            [m.id for m in messages[index:]] if renew else [message.id],
            ledger,
            worker_id=worker_id,
            now=now,
            stats=stats,
        )
        if not still_mine:
            log.warning("worker %s: message %s was taken back; not sent", worker_id, message.id)
            continue
        try:
            result = _transport_for(transports, message).send(message)
        except DeliveryError as error:
            now = clock()
            exhausted = message.attempts >= max_attempts
            message.mark_failed(
                str(error),
                code=error.code,
                permanent=error.permanent,
                retry_at=None
                if exhausted
                else retry_time(message.attempts, now=now, base_seconds=backoff_seconds),
            )
            if error.opt_out and contact is not None:
                opt_out_contact(contact, Channel.SMS, source="twilio 21610 (recipient unsubscribed)", now=now)
            if message.status is MessageStatus.FAILED:
                stats.failed += 1
            else:
                stats.retried += 1
            continue
        except Exception as error:  # one message that cannot be built or sent never sinks the batch
            log.exception("worker %s: message %s could not be sent", worker_id, message.id)
            message.mark_failed(
                f"This message could not be sent: {type(error).__name__}: {error}",
                code="send_error",
                permanent=True,
                retry_at=None,
            )
            stats.failed += 1
            continue
        sent.append((message, result))
    _commit_session()
    _flush_sent(sent, ledger, worker_id=worker_id, now=clock(), stats=stats)


def _record_and_start(
    sent: list[tuple[OutboundMessage, SendResult]],
    message: OutboundMessage,
    renew_ids: list[int],
    ledger: Connection,
    *,
    worker_id: str,
    now: datetime,
    stats: DeliveryStats,
) -> bool:
    """Record the outcomes in `sent`, mark `message`'s attempt and renew the claim on `renew_ids`
    (which include `message`), in one statement guarded by `claimed_by = me`; empties `sent`.

    Returns False if `message` is no longer held. A reconciler that took a sent row back wins.
    """
    outcomes = {m.id: (m, result) for m, result in sent}
    sent.clear()
    statuses = {result.provider_status for _, result in outcomes.values()}
    if len(statuses) <= 1 and all(r.provider_id == m.provider_id for m, r in outcomes.values()):
        # The usual case (emails, whose Message-ID was recorded at claim): one statement built once.
        statement = _mark_statement(with_outcomes=bool(outcomes))
        parameters = {
            "now": now,
            "mark_id": message.id,
            "ids": [*renew_ids, *outcomes],
            "worker_id": worker_id,
            "done_ids": list(outcomes),
            "provider_status": next(iter(statuses), None),
        }
        held = set(ledger.scalars(statement, parameters).all())
    else:
        held = _record_and_start_each(outcomes, message, renew_ids, ledger, worker_id=worker_id, now=now)
    stats.sent += len(held.intersection(outcomes))
    return message.id in held


@functools.cache
def _mark_statement(*, with_outcomes: bool):
    """_record_and_start's statement when every outcome has the same provider status and no new
    provider id: bound parameters only, so it is built and compiled once, not at every message."""
    table = OutboundMessage.__table__
    c = table.c
    now = bindparam("now", type_=c.claimed_at.type)
    values: dict[str, object] = {
        "claimed_at": now,
        "send_started_at": case((c.id == bindparam("mark_id"), now), else_=c.send_started_at),
    }
    if with_outcomes:
        done = c.id.in_(bindparam("done_ids", expanding=True))
        values.update(
            status=case((done, literal(MessageStatus.SENT, c.status.type)), else_=c.status),
            sent_at=case((done, now), else_=c.sent_at),
            error=case((done, null()), else_=c.error),
            error_code=case((done, null()), else_=c.error_code),
            provider_status=case(
                (done, bindparam("provider_status", type_=c.provider_status.type)), else_=c.provider_status
            ),
        )
    return (
        update(table)
        .where(
            c.id.in_(bindparam("ids", expanding=True)),
            c.status == MessageStatus.SENDING,
            c.claimed_by == bindparam("worker_id"),
        )
        .values(**values)
        .returning(c.id)
    )


def _record_and_start_each(
    outcomes: dict[int, tuple[OutboundMessage, SendResult]],
    message: OutboundMessage,
    renew_ids: list[int],
    ledger: Connection,
    *,
    worker_id: str,
    now: datetime,
) -> set[int]:
    """_record_and_start's statement for outcomes that differ row by row (SMS: Twilio's SIDs)."""
    c = OutboundMessage.__table__.c
    values: dict[str, object] = {
        "claimed_at": now,
        "send_started_at": case(
            (c.id == message.id, literal(now, c.send_started_at.type)), else_=c.send_started_at
        ),
    }
    if outcomes:
        done = c.id.in_(list(outcomes))
        values.update(
            status=case((done, literal(MessageStatus.SENT, c.status.type)), else_=c.status),
            sent_at=case((done, literal(now, c.sent_at.type)), else_=c.sent_at),
            error=case((done, literal(None, c.error.type)), else_=c.error),
            error_code=case((done, literal(None, c.error_code.type)), else_=c.error_code),
            provider_status=case(
                *(
                    (c.id == i, literal(r.provider_status, c.provider_status.type))
                    for i, (_, r) in outcomes.items()
                ),
                else_=c.provider_status,
            ),
        )
        new_ids = [(i, r.provider_id) for i, (m, r) in outcomes.items() if r.provider_id != m.provider_id]
        if new_ids:  # SMS: Twilio's SID (an email's Message-ID was recorded at claim)
            values["provider_id"] = case(
                *((c.id == i, literal(provider_id, c.provider_id.type)) for i, provider_id in new_ids),
                else_=c.provider_id,
            )
    return set(
        ledger.scalars(
            update(OutboundMessage.__table__)
            .where(
                c.id.in_([*renew_ids, *outcomes]),
                c.status == MessageStatus.SENDING,
                c.claimed_by == worker_id,
            )
            .values(**values)
            .returning(c.id)
        ).all()
    )


def _release_untried(ids: list[int], ledger: Connection, *, worker_id: str) -> int:
    """Give rows this worker claimed but never tried back to the queue (the attempt is not counted)."""
    table = OutboundMessage.__table__
    return ledger.execute(
        update(table)
        .where(
            table.c.id.in_(ids),
            table.c.status == MessageStatus.SENDING,
            table.c.claimed_by == worker_id,
            table.c.send_started_at.is_(None),
        )
        .values(status=MessageStatus.QUEUED, claimed_by=None, claimed_at=None, attempts=table.c.attempts - 1)
    ).rowcount


def _flush_sent(
    sent: list[tuple[OutboundMessage, SendResult]],
    ledger: Connection,
    *,
    worker_id: str,
    now: datetime,
    stats: DeliveryStats,
) -> None:
    """Mark sent rows, guarded by `claimed_by = me` (a reconciler that took a row back wins); empties `sent`.

    Rows whose provider id is already stored (emails: recorded at claim) are marked in one UPDATE per
    provider status; the others (SMS: Twilio's SID) by one executemany UPDATE.
    """
    if not sent:
        return
    table = OutboundMessage.__table__
    guard = (table.c.status == MessageStatus.SENDING, table.c.claimed_by == worker_id)
    outcome = {"status": MessageStatus.SENT, "sent_at": now, "error": None, "error_code": None}
    by_status: dict[str, list[int]] = {}
    one_by_one: list[dict[str, object]] = []
    for message, result in sent:
        if result.provider_id is not None and result.provider_id == message.provider_id:
            by_status.setdefault(result.provider_status, []).append(message.id)
        else:
            one_by_one.append(
                {"m_id": message.id, "m_provider_id": result.provider_id, "m_status": result.provider_status}
            )
    sent.clear()
    marked = 0
    for provider_status, ids in by_status.items():
        marked += ledger.execute(
            update(table)
            .where(table.c.id.in_(ids), *guard)
            .values(provider_status=provider_status, **outcome)
        ).rowcount
    if one_by_one:
        marked += ledger.execute(
            table.update()
            .where(table.c.id == bindparam("m_id"), *guard)
            .values(provider_id=bindparam("m_provider_id"), provider_status=bindparam("m_status"), **outcome),
            one_by_one,
        ).rowcount
    stats.sent += marked


def reconcile_stale_messages(transports: Transports, *, now: datetime, stale_seconds: float) -> int:
    """Settle rows left `sending` by a worker that died, without sending anything again.

    Only rows whose claim was not renewed for `stale_seconds` are taken (a live worker renews its
    claim before every send), and each change is guarded by the claim seen, so a worker that renews
    it meanwhile keeps its row. Rows never tried go back to the queue; only the one in flight is
    looked up (SMS) or left for a person (email, `unknown`).
    """
    cutoff = now - timedelta(seconds=stale_seconds)
    stale = db.session.execute(
        select(
            OutboundMessage.id,
            OutboundMessage.channel,
            OutboundMessage.claimed_at,
            OutboundMessage.send_started_at,
            _claimed_before_server_start().label("server_restarted"),
        )
        .where(OutboundMessage.status == MessageStatus.SENDING, OutboundMessage.claimed_at < cutoff)
        .with_for_update(skip_locked=True)
    ).all()
    settled = 0
    for row in stale:
        changes = _settle_stale(row, transports, now=now)
        if changes is None:
            continue
        settled += db.session.execute(
            update(OutboundMessage)
            .where(
                OutboundMessage.id == row.id,
                OutboundMessage.status == MessageStatus.SENDING,
                OutboundMessage.claimed_at == row.claimed_at,
            )
            .values(claimed_by=None, **changes),
            execution_options={"synchronize_session": False},
        ).rowcount
    db.session.commit()
    db.session.expire_all()
    return settled


def _claimed_before_server_start():
    """True for a row claimed before the database server last started: its attempt marker may be lost."""
    if db.engine.dialect.name == "postgresql":
        return func.coalesce(OutboundMessage.claim_server_epoch < func.pg_postmaster_start_time(), false())
    return false()


def _settle_stale(row, transports: Transports, *, now: datetime) -> dict[str, object] | None:
    """The new state of a stale row, or None to leave it for the next pass."""
    if row.send_started_at is None and not row.server_restarted:  # never tried: sending it now is safe
        return {
            "status": MessageStatus.QUEUED,
            "next_attempt_at": now,
            "claimed_at": None,
            "attempts": OutboundMessage.attempts - 1,
            "error": "worker stopped before trying this message; queued again",
        }
    if row.channel is Channel.SMS and hasattr(transports.sms, "find_accepted"):
        message = db.session.get(OutboundMessage, row.id)
        since = (row.send_started_at or row.claimed_at) - timedelta(minutes=5)
        try:
            found = transports.sms.find_accepted(message, since=since)
        except Exception as error:  # Twilio unreachable: leave the row for the next pass
            log.warning("could not reconcile SMS %s: %s", row.id, error)
            return None
        if found is not None:
            return {
                "status": MessageStatus.SENT,
                "provider_id": found.provider_id,
                "provider_status": found.provider_status,
                "sent_at": now,
                "error": None,
                "error_code": None,
            }
        return {
            "status": MessageStatus.QUEUED,  # Twilio never took it: sending it now is safe
            "next_attempt_at": now,
            "error": "worker stopped before Twilio accepted the message; queued again",
        }
    if row.send_started_at is None:
        return {
            "status": MessageStatus.UNKNOWN,
            "error": (
                "The database server restarted while this email was being sent; it may have gone out. "
                "Not resent automatically: check the recipient's mailbox or resend it from the outbox."
            ),
            "error_code": "outcome_unknown",
        }
    return {
        "status": MessageStatus.UNKNOWN,
        "error": (
            "The worker stopped while sending this email; the SMTP server may have accepted it. "
            "Not resent automatically: check the recipient's mailbox or resend it from the outbox."
        ),
        "error_code": "outcome_unknown",
    }


def resend_message(message: OutboundMessage, *, now: datetime) -> None:
    """A person decided an `unknown` or `failed` message should go out (again)."""
    if message.status not in (MessageStatus.UNKNOWN, MessageStatus.FAILED):
        from app.messaging.models import InvalidTransition

        raise InvalidTransition(f"A {message.status.value} message cannot be resent")
    message.status = MessageStatus.QUEUED
    message.next_attempt_at = now
    message.error = None
    message.error_code = None


# ---------------------------------------------------------------------------------------- the loop


class Worker:
    """Deliver the outbox and run periodic jobs until stopped (SIGTERM/SIGINT finish the current batch)."""

    def __init__(
        self,
        app: Flask,
        *,
        transports: Transports | None = None,
        worker_id: str | None = None,
        batch_size: int = 50,
        poll_seconds: float = 2.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.app = app
        self.transports = transports or transports_from_config(app.config)
        self.worker_id = worker_id or default_worker_id()
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.stop_event = threading.Event()
        self.max_attempts = int(app.config.get("OUTBOX_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS))
        self.backoff_seconds = float(app.config.get("OUTBOX_BACKOFF_SECONDS", DEFAULT_BACKOFF_SECONDS))
        self.stale_seconds = float(app.config.get("OUTBOX_STALE_SECONDS", DEFAULT_STALE_SECONDS))
        self._last_reconcile: datetime | None = None
        self._last_runs: dict[str, datetime] = {}  # this worker's schedule of the periodic jobs

    def stop(self, *_args: object) -> None:
        self.stop_event.set()

    def deliver_due(self) -> DeliveryStats:
        """Deliver everything due now, batch by batch; returns what happened."""
        stats = DeliveryStats()
        while not self.stop_event.is_set():
            claimed_at = self.clock()
            ids = claim_due_messages(
                worker_id=self.worker_id,
                now=claimed_at,
                limit=self.batch_size,
                mail_from=getattr(self.transports.email, "mail_from", None),
            )
            if not ids:
                break
            stats.add(
                deliver_claimed(
                    ids,
                    self.transports,
                    worker_id=self.worker_id,
                    clock=self.clock,
                    max_attempts=self.max_attempts,
                    backoff_seconds=self.backoff_seconds,
                    # Well before another worker may take the rows back (transports time out sooner).
                    release_at=claimed_at + timedelta(seconds=self.stale_seconds / 2),
                    renew_seconds=self.stale_seconds / 10,
                )
            )
        return stats

    def tick(self) -> DeliveryStats:
        """One pass: reconcile stale rows now and then, run due jobs, deliver due messages."""
        now = self.clock()
        stats = DeliveryStats()
        if self._last_reconcile is None or (now - self._last_reconcile).total_seconds() >= 60:
            self._last_reconcile = now
            stats.reconciled = reconcile_stale_messages(
                self.transports, now=now, stale_seconds=self.stale_seconds
            )
        run_due_jobs(now=now, last_runs=self._last_runs)
        stats.add(self.deliver_due())
        return stats

    def run_once(self) -> DeliveryStats:
        with self.app.app_context():
            try:
                return self.tick()
            finally:
                self.transports.close()
                db.session.remove()

    def run_forever(self) -> None:
        with self.app.app_context():
            log.info("worker %s started", self.worker_id)
            try:
                while not self.stop_event.is_set():
                    try:
                        stats = self.tick()
                    except Exception:
                        db.session.rollback()
                        log.exception("worker pass failed; trying again shortly")
                        stats = DeliveryStats()
                    if stats.sent or stats.failed or stats.retried or stats.cancelled:
                        log.info("worker %s: %s", self.worker_id, stats)
                    db.session.remove()
                    self.stop_event.wait(self.poll_seconds)
            finally:
                self.transports.close()
                log.info("worker %s stopped", self.worker_id)


@contextlib.contextmanager
def stop_on_signals(worker: Worker) -> Iterator[None]:
    """SIGTERM and SIGINT ask the worker to finish the batch in hand and exit."""
    previous = {sig: signal.signal(sig, worker.stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# ------------------------------------------------------------------------------- dev server thread

_dev_thread_lock = threading.Lock()
_dev_thread: threading.Thread | None = None


def _dev_thread_wanted(app: Flask) -> bool:
    import sys

    return (
        not app.testing
        and app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
        and not os.environ.get("WINBACK_DISABLE_WORKER_THREAD")
        and os.environ.get("FLASK_RUN_FROM_CLI") == "true"
        and "run" in sys.argv[1:]
    )


def install_dev_worker_thread(app: Flask) -> None:
    """`flask run` on SQLite: one worker thread, started by the first request.

    Starting on the first request, not at import, means the reloader's watching parent process
    (which serves nothing) never starts one; only the process that serves does.
    """
    if not _dev_thread_wanted(app):
        return

    @app.before_request
    def _start_worker_thread() -> None:
        global _dev_thread
        if _dev_thread is not None:
            return
        with _dev_thread_lock:
            if _dev_thread is None:
                worker = Worker(current_app._get_current_object(), worker_id=f"{default_worker_id()}:dev")
                _dev_thread = threading.Thread(target=worker.run_forever, name="outbox-worker", daemon=True)
                _dev_thread.start()
