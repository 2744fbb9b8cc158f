"""Send-time suppression, crashes mid-send, two workers at once, periodic jobs."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, text, update

from app.extensions import db
from app.jobs import register_periodic_job, unregister_periodic_job
from app.messaging.channels import Channel
from app.messaging.delivery import claim_due_messages, deliver_claimed
from app.messaging.models import DoNotContactEntry, DoNotContactKind, MessageStatus, OutboundMessage
from app.messaging.reconciliation import reconcile_stale_messages
from app.messaging.service import enqueue_message
from app.messaging.transports import LogSmsTransport, SmtpTransport, Transports
from app.messaging.worker import Worker

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _queue(contact, channel=Channel.EMAIL, key="k1"):
    message = enqueue_message(
        channel=channel,
        recipient=contact.email if channel is Channel.EMAIL else contact.phone,
        subject="Hi",
        body_text="Hello",
        idempotency_key=key,
        contact=contact,
        now=NOW,
    )
    db.session.commit()
    return message


def _erase(contact):
    contact.erased_at = NOW


def _opt_out_email(contact):
    contact.email_opt_out_at = NOW


def _opt_out_sms(contact):
    contact.sms_opt_out_at = NOW


def _no_email(contact):
    contact.email = None


def _no_phone(contact):
    contact.phone = None


def _dnc(kind, value_of):
    def change(contact):
        db.session.add(DoNotContactEntry(kind=kind, value=value_of(contact), source="admin", created_at=NOW))

    return change


SUPPRESSIONS = [
    ("erased", Channel.EMAIL, _erase),
    ("erased", Channel.SMS, _erase),
    ("opted_out", Channel.EMAIL, _opt_out_email),
    ("opted_out", Channel.SMS, _opt_out_sms),
    ("no_address", Channel.EMAIL, _no_email),
    ("no_address", Channel.SMS, _no_phone),
    ("do_not_contact", Channel.EMAIL, _dnc(DoNotContactKind.EMAIL, lambda c: c.email)),
    ("do_not_contact", Channel.EMAIL, _dnc(DoNotContactKind.DOMAIN, lambda c: c.email.split("@")[1])),
    ("do_not_contact", Channel.SMS, _dnc(DoNotContactKind.PHONE, lambda c: c.phone)),
]


@pytest.mark.parametrize(("reason", "channel", "change"), SUPPRESSIONS)
def test_a_contact_suppressed_after_enqueue_is_not_sent_and_the_reason_is_recorded(
    make_contact, smtp_server, smtp_transport, twilio_http, sms_transport, reason, channel, change
):
    sink, _ = smtp_server
    contact = make_contact()
    message = _queue(contact, channel)
    other = _queue(make_contact(email="lee@elsewhere.example"), channel, key="other")  # still gets hers
    change(contact)
    db.session.commit()
    ids = claim_due_messages(worker_id="w1", now=NOW)
    stats = deliver_claimed(
        ids, Transports(email=smtp_transport, sms=sms_transport), worker_id="w1", clock=lambda: NOW
    )
    assert stats.cancelled == 1
    assert stats.sent == 1
    db.session.expire_all()
    assert message.status is MessageStatus.CANCELLED
    assert message.cancelled_reason == f"suppressed at send time: {reason}"
    assert other.status is MessageStatus.SENT
    delivered = [r.rcpt_tos[0] for r in sink.received] + [r["data"]["To"] for r in twilio_http.creates]
    assert delivered == [other.recipient]


class Killed(BaseException):
    """The process dies: nothing after this line of the worker runs (not even except Exception)."""


class DiesAfterAccepted:
    """A transport that hands the message to the real provider, then the worker is killed."""

    def __init__(self, inner):
        self.inner = inner
        self.simulated = False

    def send(self, message):
        self.inner.send(message)
        raise Killed

    def close(self):
        self.inner.close()


def test_an_email_worker_killed_after_the_smtp_server_accepted_does_not_send_again(
    make_contact, smtp_server, smtp_transport
):
    sink, _ = smtp_server
    message = _queue(make_contact())
    ids = claim_due_messages(worker_id="dying", now=NOW)
    with pytest.raises(Killed):
        deliver_claimed(
            ids,
            Transports(email=DiesAfterAccepted(smtp_transport), sms=LogSmsTransport()),
            worker_id="dying",
            clock=lambda: NOW,
        )
    db.session.rollback()
    assert len(sink.received) == 1
    transports = Transports(email=smtp_transport, sms=LogSmsTransport())
    # Another worker right after: the row is still claimed, so nothing is sent.
    assert deliver_claimed(claim_due_messages(worker_id="w2", now=NOW), transports, worker_id="w2").sent == 0
    # Later the stale claim is reconciled: email outcome unknown -> a person decides, no resend.
    assert reconcile_stale_messages(transports, now=NOW + timedelta(minutes=11), stale_seconds=600) == 1
    assert claim_due_messages(worker_id="w2", now=NOW + timedelta(days=1)) == []
    db.session.expire_all()
    assert message.status is MessageStatus.UNKNOWN
    assert message.error_code == "outcome_unknown"
    assert len(sink.received) == 1


class DiesOnSend:
    """Hands messages to the real provider; the worker is killed after the n-th one was accepted."""

    def __init__(self, inner, n):
        self.inner, self.n, self.simulated = inner, n, False

    def send(self, message):
        result = self.inner.send(message)
        self.n -= 1
        if self.n == 0:
            raise Killed
        return result

    def close(self):
        self.inner.close()


def test_a_worker_killed_mid_batch_leaves_only_the_message_in_flight_unknown_and_requeues_the_untried(
    make_contact, smtp_server, smtp_transport
):
    sink, _ = smtp_server
    messages = [_queue(make_contact(email=f"p{n}@customer.example"), key=f"k{n}") for n in range(5)]
    ids = claim_due_messages(worker_id="dying", now=NOW)
    with pytest.raises(Killed):
        deliver_claimed(
            ids,
            Transports(email=DiesOnSend(smtp_transport, 2), sms=LogSmsTransport()),
            worker_id="dying",
            clock=lambda: NOW,
        )
    db.session.rollback()
    assert len(sink.received) == 2
    transports = Transports(email=smtp_transport, sms=LogSmsTransport())
    assert deliver_claimed(claim_due_messages(worker_id="w2", now=NOW), transports, worker_id="w2").sent == 0
    # The first was recorded sent before the second was tried; the second was in flight.
    assert reconcile_stale_messages(transports, now=NOW + timedelta(minutes=11), stale_seconds=600) == 4
    db.session.expire_all()
    assert [m.status for m in messages] == [MessageStatus.SENT, MessageStatus.UNKNOWN] + [
        MessageStatus.QUEUED
    ] * 3
    assert [m.attempts for m in messages[2:]] == [0, 0, 0]  # never tried: the claim is not counted
    arrived = {r.message["Message-ID"] for r in sink.received}
    assert arrived == {messages[0].provider_id, messages[1].provider_id}
    # The three never tried are delivered once; the one in flight is never resent blindly.
    later = NOW + timedelta(minutes=12)
    ids = claim_due_messages(worker_id="w2", now=later)
    assert ids == [m.id for m in messages[2:]]
    assert deliver_claimed(ids, transports, worker_id="w2", clock=lambda: later).sent == 3
    assert sorted(r.rcpt_tos[0] for r in sink.received) == sorted(m.recipient for m in messages)


def test_an_sms_worker_killed_after_twilio_accepted_is_reconciled_from_twilio_not_resent(
    make_contact, twilio_http, sms_transport
):
    message = _queue(make_contact(), Channel.SMS)
    ids = claim_due_messages(worker_id="dying", now=NOW)
    with pytest.raises(Killed):
        deliver_claimed(
            ids,
            Transports(email=LogSmsTransport(), sms=DiesAfterAccepted(sms_transport)),
            worker_id="dying",
            clock=lambda: NOW,
        )
    db.session.rollback()
    [accepted_sid] = twilio_http.messages
    transports = Transports(email=LogSmsTransport(), sms=sms_transport)
    assert reconcile_stale_messages(transports, now=NOW + timedelta(minutes=11), stale_seconds=600) == 1
    db.session.expire_all()
    assert message.status is MessageStatus.SENT
    assert message.provider_id == accepted_sid
    assert len(twilio_http.creates) == 1
    assert claim_due_messages(worker_id="w2", now=NOW + timedelta(days=1)) == []


def test_an_sms_worker_killed_before_twilio_accepted_is_sent_once_after_reconciliation(
    make_contact, twilio_http, sms_transport
):
    message = _queue(make_contact(), Channel.SMS)
    claim_due_messages(worker_id="dying", now=NOW)  # claimed, then the process died before sending
    transports = Transports(email=LogSmsTransport(), sms=sms_transport)
    reconcile_stale_messages(transports, now=NOW + timedelta(minutes=11), stale_seconds=600)
    later = NOW + timedelta(minutes=11)
    ids = claim_due_messages(worker_id="w2", now=later)
    assert deliver_claimed(ids, transports, worker_id="w2", clock=lambda: later).sent == 1
    db.session.expire_all()
    assert message.status is MessageStatus.SENT
    assert len(twilio_http.creates) == 1


def test_a_periodic_job_runs_in_the_worker_and_its_writes_are_committed(app, make_contact):
    runs = []

    def enroll(now):
        runs.append(now)
        enqueue_message(
            channel=Channel.EMAIL,
            recipient="x@customer.example",
            body_text="Hi",
            idempotency_key=f"job:{len(runs)}",
            now=now,
        )

    register_periodic_job(app, "test-enroll", 300, enroll)
    try:
        clock = [NOW]
        worker = Worker(
            app, transports=Transports(email=LogSmsTransport(), sms=LogSmsTransport()), clock=lambda: clock[0]
        )
        worker.tick()
        clock[0] = NOW + timedelta(seconds=60)
        worker.tick()  # not due yet
        clock[0] = NOW + timedelta(seconds=301)
        worker.tick()
    finally:
        unregister_periodic_job(app, "test-enroll")
    assert runs == [NOW, NOW + timedelta(seconds=301)]
    db.session.expire_all()
    statuses = db.session.scalars(select(OutboundMessage.status).order_by(OutboundMessage.id)).all()
    assert statuses == [MessageStatus.SENT, MessageStatus.SENT]  # queued by the job, sent in the same pass


def test_periodic_jobs_belong_to_the_app_that_registered_them(app, make_app):
    from app.jobs import periodic_jobs

    other = make_app()
    register_periodic_job(other, "only-on-the-other-app", 60, lambda now: None)
    names = {job.name for job in periodic_jobs(app)}
    assert "only-on-the-other-app" in {job.name for job in periodic_jobs(other)}
    assert "only-on-the-other-app" not in names  # the last create_app() no longer wins
    assert {"campaigns.enroll_and_remind", "surveys.close_stale_responses"} <= names


def test_the_worker_stops_when_asked(app):
    worker = Worker(
        app, transports=Transports(email=LogSmsTransport(), sms=LogSmsTransport()), poll_seconds=30
    )
    thread = threading.Thread(target=worker.run_forever)
    thread.start()
    worker.stop()  # what SIGTERM does
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_two_workers_deliver_1000_due_messages_exactly_once(app, smtp_server):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("several workers at once need PostgreSQL (FOR UPDATE SKIP LOCKED); SQLite runs one")
    sink, port = smtp_server
    rows = [
        {
            "idempotency_key": f"bulk:{n}",
            "channel": Channel.EMAIL,
            "recipient": f"person{n}@customer.example",
            "subject": f"Message {n}",
            "body_text": "Hello",
            "meta": {},
            "status": MessageStatus.QUEUED,
            "attempts": 0,
            "next_attempt_at": NOW,
            "created_at": NOW,
        }
        for n in range(1000)
    ]
    db.session.execute(insert(OutboundMessage), rows)
    db.session.commit()
    claims: dict[str, int] = {}

    def work(name: str) -> None:
        transport = SmtpTransport("127.0.0.1", port, mail_from="w@winback.example", starttls=False)
        worker = Worker(
            app,
            transports=Transports(email=transport, sms=LogSmsTransport()),
            worker_id=name,
            batch_size=20,
            clock=lambda: NOW + timedelta(seconds=1),
        )
        with app.app_context():
            claims[name] = worker.deliver_due().sent
            db.session.remove()
        transport.close()

    threads = [threading.Thread(target=work, args=(f"worker-{i}",)) for i in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    delivered = Counter(r.rcpt_tos[0] for r in sink.received)
    assert len(delivered) == 1000
    assert max(delivered.values()) == 1
    assert sum(claims.values()) == 1000
    assert min(claims.values()) > 0, claims  # both really worked
    db.session.expire_all()
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(OutboundMessage)
            .where(OutboundMessage.status == MessageStatus.SENT)
        )
        == 1000
    )


def _needs_postgresql() -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the attempt markers are committed asynchronously on PostgreSQL only")


def test_attempt_markers_skip_the_disk_wait_on_their_own_connection_only(
    make_contact, smtp_server, smtp_transport
):
    _needs_postgresql()
    from sqlalchemy import event

    settings: list[str] = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE OUTBOUND_MESSAGES"):
            settings.append(conn.exec_driver_sql("SHOW synchronous_commit").scalar())

    messages = [_queue(make_contact(email=f"p{n}@customer.example"), key=f"k{n}") for n in range(3)]
    ids = claim_due_messages(worker_id="w1", now=NOW)
    db.session.expire_all()
    server_start = db.session.scalar(select(func.pg_postmaster_start_time()))
    assert {m.claim_server_epoch for m in messages} == {server_start}
    event.listen(db.engine, "after_cursor_execute", remember)
    try:
        transports = Transports(email=smtp_transport, sms=LogSmsTransport())
        assert deliver_claimed(ids, transports, worker_id="w1", clock=lambda: NOW).sent == 3
    finally:
        event.remove(db.engine, "after_cursor_execute", remember)
    assert len(settings) >= 3  # one statement per message at least
    assert set(settings) == {"off"}  # every marker and outcome, on the ledger
    # The ledger's connection goes back to the pool as it came: everything else still waits for the disk.
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"


def test_after_a_database_crash_unsettled_emails_of_an_older_claim_are_never_resent(
    make_contact, smtp_server, smtp_transport
):
    """A server crash loses the newest asynchronous records: here the marker of the second email and
    everything after it. The claim survived (it is durable), so the rows look claimed and never tried,
    but the second email did reach the SMTP server. Because the claim is older than the server's last
    start, none of them is queued again: each waits for a person."""
    _needs_postgresql()
    sink, _ = smtp_server
    messages = [_queue(make_contact(email=f"p{n}@customer.example"), key=f"k{n}") for n in range(4)]
    ids = claim_due_messages(worker_id="dying", now=NOW)
    with pytest.raises(Killed):
        deliver_claimed(
            ids,
            Transports(email=DiesOnSend(smtp_transport, 2), sms=LogSmsTransport()),
            worker_id="dying",
            clock=lambda: NOW,
        )
    db.session.rollback()
    assert len(sink.received) == 2
    # What recovery finds after the crash: the suffix of the WAL from the second marker on is gone.
    lost = [m.id for m in messages[1:]]
    db.session.execute(
        update(OutboundMessage)
        .where(OutboundMessage.id.in_(lost))
        .values(status=MessageStatus.SENDING, send_started_at=None, sent_at=None)
    )
    db.session.execute(
        update(OutboundMessage).values(
            claim_server_epoch=func.pg_postmaster_start_time() - text("interval '1 hour'")
        )
    )
    db.session.commit()
    transports = Transports(email=smtp_transport, sms=LogSmsTransport())
    assert reconcile_stale_messages(transports, now=NOW + timedelta(minutes=11), stale_seconds=600) == 3
    db.session.expire_all()
    assert [m.status for m in messages] == [MessageStatus.SENT] + [MessageStatus.UNKNOWN] * 3
    assert "database server restarted" in messages[1].error
    later = NOW + timedelta(days=1)
    assert claim_due_messages(worker_id="w2", now=later) == []
    assert len(sink.received) == 2  # nothing sent twice
