"""Queueing messages: one row per cause, cancellable while queued."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.models import InvalidTransition, MessageStatus, OutboundMessage
from app.messaging.service import cancel_queued_messages, enqueue_message

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _queue(contact, key: str, channel: Channel = Channel.EMAIL) -> OutboundMessage:
    return enqueue_message(
        channel=channel,
        recipient=contact.email,
        body_text="Hello",
        idempotency_key=key,
        contact=contact,
        subject="Hi",
        now=NOW,
    )


def test_the_same_idempotency_key_queues_one_message(make_contact):
    contact = make_contact()
    first = _queue(contact, "invitation:1:initial")
    db.session.commit()
    second = _queue(contact, "invitation:1:initial")
    db.session.commit()
    assert first.id == second.id
    assert db.session.scalar(select(func.count()).select_from(OutboundMessage)) == 1
    assert first.status is MessageStatus.QUEUED
    assert first.next_attempt_at == NOW


def test_opt_out_cancels_queued_messages_only(make_contact):
    contact = make_contact()
    email = _queue(contact, "a")
    sms = _queue(contact, "b", Channel.SMS)
    sent = _queue(contact, "c")
    sent.status = MessageStatus.SENT
    db.session.commit()
    assert cancel_queued_messages(contact.id, reason="opted out", channel=Channel.EMAIL) == 1
    db.session.commit()
    db.session.expire_all()
    assert email.status is MessageStatus.CANCELLED
    assert email.cancelled_reason == "opted out"
    assert sms.status is MessageStatus.QUEUED
    assert sent.status is MessageStatus.SENT
    with pytest.raises(InvalidTransition):
        sent.cancel("too late")
