"""Delivery through real SMTP (aiosmtpd) and the real twilio library; retries, permanent failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.delivery import claim_due_messages, deliver_claimed
from app.messaging.models import DoNotContactEntry, DoNotContactKind, MessageStatus
from app.messaging.service import enqueue_message
from app.messaging.transports import LogSmsTransport, Transports

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _email(contact, key="invitation:1", **fields):
    values = {
        "channel": Channel.EMAIL,
        "recipient": contact.email,
        "subject": "Two minutes about your decision?",
        "body_text": "Hello Pat, tell us why.",
        "body_html": "<p>Hello <b>Pat</b>, tell us why.</p>",
        "idempotency_key": key,
        "contact": contact,
        "now": NOW,
        "meta": {
            "unsubscribe_url": "https://winback.example/unsubscribe/tok123",
            "unsubscribe_mailto": "unsubscribe@winback.example",
        },
    }
    values.update(fields)
    message = enqueue_message(**values)
    db.session.commit()
    return message


def _sms(contact, key="sms:1"):
    message = enqueue_message(
        channel=Channel.SMS,
        recipient=contact.phone,
        body_text="Hi Pat, 2 quick questions? https://winback.example/s/abc Reply STOP to opt out",
        idempotency_key=key,
        contact=contact,
        now=NOW,
    )
    db.session.commit()
    return message


def _deliver(transports, *, now=NOW, worker="w1", **kwargs):
    ids = claim_due_messages(worker_id=worker, now=now)
    return deliver_claimed(ids, transports, worker_id=worker, clock=lambda: now, **kwargs)


def test_email_arrives_with_text_html_and_one_click_unsubscribe_headers(
    make_contact, smtp_server, smtp_transport
):
    sink, _ = smtp_server
    contact = make_contact(email="jane@customer.example")
    message = _email(contact)
    stats = _deliver(Transports(email=smtp_transport, sms=LogSmsTransport()))
    assert stats.sent == 1
    [received] = sink.received
    assert received.rcpt_tos == ["jane@customer.example"]
    assert received.mail_from == "surveys@winback.example"
    mail = received.message
    assert mail["Subject"] == "Two minutes about your decision?"
    assert mail["List-Unsubscribe"] == (
        "<https://winback.example/unsubscribe/tok123>, <mailto:unsubscribe@winback.example>"
    )
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail.get_body(("plain",)).get_content().strip() == "Hello Pat, tell us why."
    assert "<b>Pat</b>" in mail.get_body(("html",)).get_content()
    db.session.expire_all()
    assert message.status is MessageStatus.SENT
    assert message.provider_id == mail["Message-ID"]
    assert message.sent_at == NOW
    assert message.attempts == 1


def test_a_refused_recipient_is_a_permanent_failure_not_retried(make_contact, smtp_server, smtp_transport):
    sink, _ = smtp_server
    contact = make_contact(email="gone@customer.example")
    sink.refuse.add("gone@customer.example")
    message = _email(contact)
    stats = _deliver(Transports(email=smtp_transport, sms=LogSmsTransport()))
    assert stats.failed == 1
    db.session.expire_all()
    assert message.status is MessageStatus.FAILED
    assert message.error_code == "smtp_550"
    assert "User unknown" in message.error
    assert claim_due_messages(worker_id="w1", now=NOW + timedelta(days=30)) == []
    assert sink.received == []


def test_an_unreachable_server_is_retried_with_exponential_backoff_until_max_attempts(make_contact):
    from app.messaging.transports import SmtpTransport

    contact = make_contact()
    message = _email(contact)
    dead = SmtpTransport("127.0.0.1", 1, mail_from="w@winback.example", starttls=False, timeout=2)
    transports = Transports(email=dead, sms=LogSmsTransport())
    now = NOW
    delays = []
    for _ in range(3):
        stats = _deliver(transports, now=now, max_attempts=3, backoff_seconds=60)
        db.session.expire_all()
        if message.status is MessageStatus.QUEUED:
            delays.append((message.next_attempt_at - now).total_seconds())
            assert _deliver(transports, now=message.next_attempt_at - timedelta(seconds=1)).sent == 0
            now = message.next_attempt_at
    assert delays == [60, 120]
    assert stats.failed == 1
    assert message.status is MessageStatus.FAILED
    assert message.attempts == 3
    assert message.error_code == "smtp_connection"


def test_sms_goes_through_twilio_with_from_number_and_status_callback(
    make_contact, twilio_http, sms_transport
):
    contact = make_contact(phone="+14155550123")
    message = _sms(contact)
    stats = _deliver(Transports(email=LogSmsTransport(), sms=sms_transport))
    assert stats.sent == 1
    [request] = twilio_http.creates
    assert request["url"] == f"https://api.twilio.com/2010-04-01/Accounts/{'AC' + '1' * 32}/Messages.json"
    assert request["data"]["To"] == "+14155550123"
    assert request["data"]["From"] == "+14155550000"
    assert request["data"]["Body"].endswith("Reply STOP to opt out")
    assert request["data"]["StatusCallback"] == "http://winback.test/twilio/sms/status"
    db.session.expire_all()
    assert message.status is MessageStatus.SENT
    assert message.provider_id == next(iter(twilio_http.messages))
    assert message.provider_status == "queued"


def test_sms_can_use_a_messaging_service_instead_of_a_number(make_contact, twilio_http):
    from app.messaging.transports import TwilioSmsTransport

    transport = TwilioSmsTransport(
        "AC" + "2" * 32, "tok", messaging_service_sid="MG" + "3" * 32, http_client=twilio_http
    )
    _sms(make_contact())
    _deliver(Transports(email=LogSmsTransport(), sms=transport))
    [request] = twilio_http.creates
    assert request["data"]["MessagingServiceSid"] == "MG" + "3" * 32
    assert "From" not in request["data"]


def test_twilio_21211_invalid_number_fails_for_good(make_contact, twilio_http, sms_transport):
    contact = make_contact()
    message = _sms(contact)
    twilio_http.fail_next.append((400, 21211, "The 'To' number is not a valid phone number."))
    stats = _deliver(Transports(email=LogSmsTransport(), sms=sms_transport))
    assert stats.failed == 1
    db.session.expire_all()
    assert message.status is MessageStatus.FAILED
    assert message.error_code == "twilio_21211"
    assert contact.sms_opt_out_at is None  # a bad number is not an opt-out
    assert claim_due_messages(worker_id="w1", now=NOW + timedelta(days=1)) == []


def test_twilio_21610_unsubscribed_fails_and_opts_the_contact_out_of_sms(
    make_contact, twilio_http, sms_transport
):
    contact = make_contact()
    message = _sms(contact)
    later = _sms(contact, key="sms:reminder")
    twilio_http.fail_next.append((400, 21610, "Attempt to send to unsubscribed recipient"))
    ids = claim_due_messages(worker_id="w1", now=NOW, limit=1)
    stats = deliver_claimed(
        ids, Transports(email=LogSmsTransport(), sms=sms_transport), worker_id="w1", clock=lambda: NOW
    )
    assert stats.failed == 1
    db.session.expire_all()
    assert message.status is MessageStatus.FAILED
    assert message.error_code == "twilio_21610"
    assert contact.sms_opt_out_at == NOW
    assert later.status is MessageStatus.CANCELLED  # the opt-out cancelled what was still queued
    assert db.session.scalar(select(DoNotContactEntry.value)) == contact.phone
    assert len(twilio_http.creates) == 1


def test_a_twilio_server_error_is_retried(make_contact, twilio_http, sms_transport):
    message = _sms(make_contact())
    twilio_http.fail_next.append((503, 20503, "Service unavailable"))
    stats = _deliver(Transports(email=LogSmsTransport(), sms=sms_transport))
    assert stats.retried == 1
    db.session.expire_all()
    assert message.status is MessageStatus.QUEUED
    assert message.next_attempt_at > NOW
    stats = _deliver(Transports(email=LogSmsTransport(), sms=sms_transport), now=message.next_attempt_at)
    assert stats.sent == 1


def test_the_development_sinks_write_eml_files_and_log_sms(app, make_contact, runner, caplog):
    from pathlib import Path

    contact = make_contact(email="dev@customer.example")
    message = _email(contact, send_after=None)
    sms = _sms(contact)
    assert app.config["SMTP_HOST"] is None
    with caplog.at_level("INFO", logger="winback.messaging"):
        result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "Sent 2" in result.output
    eml = Path(app.config["INSTANCE_DIR"]) / "mail" / f"outbox-{message.id:08d}.eml"
    content = eml.read_text()
    assert "To: dev@customer.example" in content
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in content
    assert any("Reply STOP" in record.getMessage() for record in caplog.records)
    db.session.expire_all()
    assert sms.status is MessageStatus.SENT
    eml.unlink()


@pytest.mark.parametrize("status", [MessageStatus.SENT, MessageStatus.CANCELLED, MessageStatus.FAILED])
def test_only_queued_due_messages_are_claimed(make_contact, status):
    contact = make_contact()
    done = _email(contact, key="done")
    done.status = status
    _email(contact, key="later", send_after=NOW + timedelta(hours=1))
    due = _email(contact, key="due")
    db.session.commit()
    assert claim_due_messages(worker_id="w1", now=NOW) == [due.id]
    assert claim_due_messages(worker_id="w2", now=NOW) == []
    db.session.expire_all()
    assert due.status is MessageStatus.SENDING
    assert due.claimed_by == "w1"


def test_a_batch_with_one_refused_recipient_marks_the_others_sent_and_the_failure_on_its_row(
    make_contact, smtp_server, smtp_transport
):
    sink, _ = smtp_server
    addresses = [
        "ann@customer.example",
        "gone@customer.example",
        "bo@customer.example",
        "cy@customer.example",
    ]
    sink.refuse.add("gone@customer.example")
    messages = [_email(make_contact(email=a), key=f"invitation:{n}") for n, a in enumerate(addresses)]
    ids = claim_due_messages(worker_id="w1", now=NOW)
    assert ids == [m.id for m in messages]  # one batch
    stats = deliver_claimed(
        ids, Transports(email=smtp_transport, sms=LogSmsTransport()), worker_id="w1", clock=lambda: NOW
    )
    assert (stats.sent, stats.failed, stats.retried) == (3, 1, 0)
    db.session.expire_all()
    by_address = {m.recipient: m for m in messages}
    refused = by_address.pop("gone@customer.example")
    assert refused.status is MessageStatus.FAILED
    assert refused.error_code == "smtp_550"
    assert "User unknown" in refused.error
    assert refused.sent_at is None
    received = {r.rcpt_tos[0]: r.message["Message-ID"] for r in sink.received}
    assert sorted(received) == sorted(by_address)  # each once, the refused one never
    assert len(sink.received) == 3
    for address, message in by_address.items():
        assert message.status is MessageStatus.SENT
        assert message.sent_at == NOW
        assert message.error is None
        assert message.provider_id == received[address]
        assert message.provider_id.startswith(f"<outbox-{message.id}@")
    assert claim_due_messages(worker_id="w1", now=NOW + timedelta(days=30)) == []


def test_twilio_21610_in_a_batch_suppresses_the_contacts_next_sms_in_the_same_batch(
    make_contact, twilio_http, sms_transport
):
    contact = make_contact()
    first, second = _sms(contact), _sms(contact, key="sms:reminder")
    other = _sms(make_contact(phone="+14155550199"), key="sms:other")
    twilio_http.fail_next.append((400, 21610, "Attempt to send to unsubscribed recipient"))
    stats = _deliver(Transports(email=LogSmsTransport(), sms=sms_transport))
    assert (stats.failed, stats.cancelled, stats.sent) == (1, 1, 1)
    db.session.expire_all()
    assert first.status is MessageStatus.FAILED
    assert second.status is MessageStatus.CANCELLED
    assert second.cancelled_reason == "suppressed at send time: opted_out"
    assert other.status is MessageStatus.SENT
    assert other.provider_id == list(twilio_http.messages)[-1]  # the SID Twilio returned, recorded per row
    assert [c["data"]["To"] for c in twilio_http.creates] == [contact.phone, "+14155550199"]


def test_a_batch_reads_contacts_and_the_do_not_contact_list_with_a_fixed_number_of_queries(
    app, make_contact, smtp_server, smtp_transport
):
    from sqlalchemy import event

    def batch_of(count, start):
        for n in range(start, start + count):
            _email(make_contact(email=f"p{n}@customer.example"), key=f"invitation:{n}")
        db.session.add(
            DoNotContactEntry(kind=DoNotContactKind.DOMAIN, value="blocked.example", source="admin")
        )
        statements = []

        def count_statement(*args):
            statements.append(args[2])

        event.listen(db.engine, "before_cursor_execute", count_statement)
        try:
            stats = _deliver(Transports(email=smtp_transport, sms=LogSmsTransport()))
        finally:
            event.remove(db.engine, "before_cursor_execute", count_statement)
        assert stats.sent == count
        # Reads are fixed per batch; writes are one commit per message by design (the attempt is
        # recorded before each send), so only the reads are counted.
        return sum(1 for statement in statements if statement.lstrip().upper().startswith("SELECT"))

    small = batch_of(2, 0)
    db.session.execute(DoNotContactEntry.__table__.delete())
    db.session.commit()
    assert batch_of(30, 100) == small  # not one query per message
