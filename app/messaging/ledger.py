"""The outbox ledger: a delivering worker's per-message records, in bulk SQL on a connection of its own.

Its status changes are OutboundMessage's: `bulk_transition` (SENDING -> SENT, SENDING -> QUEUED), and in
record_and_start's one statement per message, `_sent_where`, which moves the recorded rows to SENT
(checked against the model's TRANSITIONS) and leaves the others `sending`.

This is the fast path the outbox bench measures (bench/outbox_bench.py): one statement per message
records the outcomes so far and marks the next attempt. The columns a `sent` row gets are the model's
own (`OutboundMessage.sent_values`, which `mark_sent` sets too), so the bulk path and the transition agree.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, case, literal, null, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ClauseElement

from app.extensions import db
from app.messaging.models import MessageStatus, OutboundMessage, check_transition
from app.messaging.transports import SendResult

if TYPE_CHECKING:
    from app.messaging.delivery import DeliveryStats


@contextlib.contextmanager
def ledger_connection() -> Iterator[Connection]:
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


def record_and_start(
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


def _sent_where(done, *, now, provider_status) -> dict[str, object]:
    """OutboundMessage.sent_values for the rows matching `done`; the other rows keep their columns."""
    check_transition(MessageStatus.SENDING, MessageStatus.SENT)  # the statements guard status = sending
    c = OutboundMessage.__table__.c
    values = OutboundMessage.sent_values(now=now, provider_status=provider_status)
    return {name: case((done, _as_sql(value, c[name])), else_=c[name]) for name, value in values.items()}


def _as_sql(value: object, column) -> ClauseElement:
    if isinstance(value, ClauseElement):
        return value
    return null() if value is None else literal(value, column.type)


@functools.cache
def _mark_statement(*, with_outcomes: bool):
    """record_and_start's statement when every outcome has the same provider status and no new
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
        provider_status = bindparam("provider_status", type_=c.provider_status.type)
        values.update(_sent_where(done, now=now, provider_status=provider_status))
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
    """record_and_start's statement for outcomes that differ row by row (SMS: Twilio's SIDs)."""
    c = OutboundMessage.__table__.c
    values: dict[str, object] = {
        "claimed_at": now,
        "send_started_at": case(
            (c.id == message.id, literal(now, c.send_started_at.type)), else_=c.send_started_at
        ),
    }
    if outcomes:
        provider_status = case(
            *(
                (c.id == i, literal(r.provider_status, c.provider_status.type))
                for i, (_, r) in outcomes.items()
            ),
            else_=c.provider_status,
        )
        values.update(
            _sent_where(
                c.id.in_(list(outcomes)), now=literal(now, c.sent_at.type), provider_status=provider_status
            )
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


def release_untried(ids: list[int], ledger: Connection, *, worker_id: str) -> int:
    """Give rows this worker claimed but never tried back to the queue (the attempt is not counted)."""
    return ledger.execute(
        OutboundMessage.bulk_transition(
            MessageStatus.SENDING,
            MessageStatus.QUEUED,
            claimed_by=None,
            claimed_at=None,
            attempts=OutboundMessage.attempts - 1,
        ).where(
            OutboundMessage.id.in_(ids),
            OutboundMessage.claimed_by == worker_id,
            OutboundMessage.send_started_at.is_(None),
        )
    ).rowcount


def flush_sent(
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
    guard = (table.c.claimed_by == worker_id,)
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
            _to_sent(now=now, provider_status=provider_status).where(table.c.id.in_(ids), *guard)
        ).rowcount
    if one_by_one:
        marked += ledger.execute(
            _to_sent(
                now=now, provider_status=bindparam("m_status"), provider_id=bindparam("m_provider_id")
            ).where(table.c.id == bindparam("m_id"), *guard),
            one_by_one,
        ).rowcount
    stats.sent += marked


def _to_sent(*, now, provider_status, **values):
    """SENDING -> SENT for the rows the caller picks, with the columns mark_sent sets."""
    return OutboundMessage.bulk_transition(
        MessageStatus.SENDING,
        MessageStatus.SENT,
        **OutboundMessage.sent_values(now=now, provider_status=provider_status),
        **values,
    )
