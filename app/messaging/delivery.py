"""Outbox delivery: claim due messages, send them, record the outcome.

Delivery is at most once per message the provider accepted. It works in batches:

1. claim: `WITH due AS MATERIALIZED (SELECT .. ORDER BY .. LIMIT n FOR UPDATE SKIP LOCKED) UPDATE ..
   SET status='sending', claimed_by, claimed_at, provider_id FROM due` and commit, so two workers
   never hold the same row and a claim never takes more than n rows (SQLite serialises writers). An
   email's Message-ID is fixed by its row (`<outbox-{id}@{MAIL_FROM domain}>`), so the claim already
   records it as the provider id, before anything is sent;
2. for each message, on a connection of its own in autocommit (see ledger.ledger_connection), ONE
   statement and one commit records the outcomes so far and this row's attempt (`send_started_at`, with the
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

The per-message records are the ledger's (app/messaging/ledger.py), the settling of stale rows the
reconciler's (app/messaging/reconciliation.py), the loop the worker's (app/messaging/worker.py).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import String, case, cast, func, literal, null, select
from sqlalchemy.engine import Connection

from app.crm.models import Contact
from app.db_types import utcnow
from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.ledger import flush_sent, ledger_connection, record_and_start, release_untried
from app.messaging.models import MessageStatus, OutboundMessage
from app.messaging.service import opt_out_contact
from app.messaging.suppression import SuppressionCheck
from app.messaging.transports import (
    DeliveryError,
    SendResult,
    Transports,
    message_id_domain,
)

log = logging.getLogger("winback.worker")

DEFAULT_MAX_ATTEMPTS = 6
DEFAULT_BACKOFF_SECONDS = 60  # 1, 2, 4, 8, 16 minutes...
MAX_BACKOFF_SECONDS = 6 * 3600
DEFAULT_STALE_SECONDS = 600


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
    claim = OutboundMessage.bulk_transition(
        MessageStatus.QUEUED,
        MessageStatus.SENDING,
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
        claim.returning(OutboundMessage.id),
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

    with ledger_connection() as ledger:
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
            flush_sent(sent, ledger, worker_id=worker_id, now=clock(), stats=stats)
            stats.released += release_untried([m.id for m in messages[index:]], ledger, worker_id=worker_id)
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
        still_mine = record_and_start(
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
    flush_sent(sent, ledger, worker_id=worker_id, now=clock(), stats=stats)
