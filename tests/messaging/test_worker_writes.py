"""What the worker writes per message: one durable statement, and no rewrite of the whole batch each time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import event

from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.delivery import claim_due_messages, deliver_claimed
from app.messaging.models import MessageStatus, OutboundMessage
from app.messaging.reconciliation import reconcile_stale_messages
from app.messaging.service import enqueue_message
from app.messaging.transports import LogSmsTransport, SendResult, Transports

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class AcceptingEmail:
    """An SMTP server that accepts everything: the provider id is the Message-ID set at claim."""

    simulated = False

    def __init__(self) -> None:
        self.sent: list[int] = []

    def send(self, message: OutboundMessage) -> SendResult:
        self.sent.append(message.id)
        return SendResult(message.provider_id)

    def close(self) -> None:
        pass


class OutboxWrites:
    """Counts the UPDATE statements on the outbox and the rows they change."""

    def __init__(self) -> None:
        self.statements = 0
        self.rows = 0

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("UPDATE OUTBOUND_MESSAGES"):
            self.statements += 1
            self.rows += max(cursor.rowcount, 0)


def test_each_send_costs_one_write_and_untried_rows_are_not_rewritten_at_every_send(make_contact):
    count = 20
    messages = []
    for n in range(count):
        contact = make_contact(email=f"p{n}@customer.example")
        messages.append(
            enqueue_message(
                channel=Channel.EMAIL,
                recipient=contact.email,
                subject="Hi",
                body_text="Hello",
                idempotency_key=f"w{n}",
                contact=contact,
                now=NOW,
            )
        )
    db.session.commit()
    ids = claim_due_messages(worker_id="A", now=NOW)
    email = AcceptingEmail()
    writes = OutboxWrites()
    event.listen(db.engine, "after_cursor_execute", writes)
    try:
        stats = deliver_claimed(
            ids, Transports(email=email, sms=LogSmsTransport()), worker_id="A", clock=lambda: NOW
        )
    finally:
        event.remove(db.engine, "after_cursor_execute", writes)
    assert stats.sent == count
    assert email.sent == ids
    db.session.expire_all()
    assert [m.status for m in messages] == [MessageStatus.SENT] * count
    assert all(m.send_started_at is not None for m in messages)
    # One statement per message records its attempt with the previous outcome; one more, the last.
    assert writes.statements == count + 1
    # The claim is renewed on the whole batch once (the clock did not move), not at every send:
    # rewriting every untried row each time made the writes grow with the square of the batch.
    assert writes.rows <= 3 * count


def test_a_claim_renewed_every_renew_seconds_is_never_taken_back_during_a_long_batch(make_contact):
    """Sends of 10 s, a stale limit of 30 s, a renewal every 25 s: the 60 s batch keeps every row."""
    for n in range(6):
        contact = make_contact(email=f"p{n}@customer.example")
        enqueue_message(
            channel=Channel.EMAIL,
            recipient=contact.email,
            subject="Hi",
            body_text="Hello",
            idempotency_key=f"r{n}",
            contact=contact,
            now=NOW,
        )
    db.session.commit()
    clock = [NOW]
    reconciled = []

    class SlowEmail(AcceptingEmail):
        def send(self, message: OutboundMessage) -> SendResult:
            clock[0] += timedelta(seconds=10)
            reconciled.append(reconcile_stale_messages(transports, now=clock[0], stale_seconds=30))
            return super().send(message)

    email = SlowEmail()
    transports = Transports(email=email, sms=LogSmsTransport())
    ids = claim_due_messages(worker_id="A", now=NOW)
    stats = deliver_claimed(ids, transports, worker_id="A", clock=lambda: clock[0], renew_seconds=25)
    assert stats.sent == 6
    assert email.sent == ids
    assert reconciled == [0] * 6
