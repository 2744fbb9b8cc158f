"""The ledger's bulk SQL (the outbox bench's fast path) leaves a sent row as the model's mark_sent would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.delivery import claim_due_messages, deliver_claimed
from app.messaging.models import InvalidTransition, MessageStatus, OutboundMessage
from app.messaging.service import enqueue_message
from app.messaging.transports import SendResult, Transports

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SENT_COLUMNS = ("status", "sent_at", "provider_status", "error", "error_code")


class Accepting:
    """A provider that accepts everything: emails keep their Message-ID, SMS get a new SID each."""

    simulated = False

    def send(self, message: OutboundMessage) -> SendResult:
        if message.channel is Channel.SMS:
            return SendResult(f"SM{message.id:032d}", provider_status="queued")
        return SendResult(message.provider_id)

    def close(self) -> None:
        pass


def _queued(make_contact, n: int, channel: Channel) -> OutboundMessage:
    contact = make_contact(email=f"l{n}@customer.example", phone=f"+1415555{n:04d}")
    message = enqueue_message(
        channel=channel,
        recipient=contact.email if channel is Channel.EMAIL else contact.phone,
        subject="Hi",
        body_text="Hello",
        idempotency_key=f"ledger{n}",
        contact=contact,
        now=NOW,
    )
    # An earlier attempt failed: a sent row must not keep its error.
    message.error, message.error_code = "timed out", "timeout"
    return message


def _as_mark_sent_leaves_it(message: OutboundMessage) -> dict[str, object]:
    twin = OutboundMessage(status=MessageStatus.SENDING, error="timed out", error_code="timeout")
    twin.mark_sent(message.provider_id, now=NOW, provider_status=message.provider_status)
    return {name: getattr(twin, name) for name in SENT_COLUMNS}


@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.SMS])
def test_rows_the_ledger_marks_sent_look_as_if_mark_sent_had_marked_them(make_contact, channel):
    messages = [_queued(make_contact, n, channel) for n in range(4)]
    db.session.commit()
    ids = claim_due_messages(worker_id="L", now=NOW)
    accepting = Accepting()
    stats = deliver_claimed(ids, Transports(email=accepting, sms=accepting), worker_id="L", clock=lambda: NOW)

    assert stats.sent == 4
    db.session.expire_all()
    for message in messages:
        stored = {name: getattr(message, name) for name in SENT_COLUMNS}
        assert stored == _as_mark_sent_leaves_it(message)
        assert stored["status"] is MessageStatus.SENT
        assert stored["error"] is None
    if channel is Channel.SMS:
        assert [m.provider_id for m in messages] == [f"SM{m.id:032d}" for m in messages]


def test_only_a_failed_or_unknown_message_can_be_resent():
    message = OutboundMessage(status=MessageStatus.UNKNOWN, error="maybe sent", error_code="outcome_unknown")
    later = NOW + timedelta(hours=1)
    message.resend(now=later)
    assert (message.status, message.next_attempt_at, message.error) == (MessageStatus.QUEUED, later, None)
    with pytest.raises(InvalidTransition):
        OutboundMessage(status=MessageStatus.SENT).resend(now=later)
