"""At most once, nothing left in limbo: slow providers, two workers, stale claims, unbuildable messages."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.delivery import claim_due_messages, deliver_claimed
from app.messaging.models import MessageStatus, OutboundMessage
from app.messaging.reconciliation import reconcile_stale_messages
from app.messaging.service import enqueue_message
from app.messaging.transports import LogSmsTransport, Transports, transports_from_config
from app.messaging.worker import Worker

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
STALE = 600


class Clock:
    """One clock for every worker of a test; the slow transport moves it forward."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class SlowSms:
    """Twilio behind a slow network: each send takes `step` seconds (of the shared clock).

    `during` runs while the send hangs, before Twilio has taken the message: what another worker
    does meanwhile.
    """

    simulated = False

    def __init__(self, inner, clock: Clock, *, step: float, during=None) -> None:
        self.inner, self.clock, self.step, self.during = inner, clock, step, during

    def send(self, message):
        self.clock.now += timedelta(seconds=self.step)
        if self.during is not None:
            self.during()
        return self.inner.send(message)

    def find_accepted(self, message, *, since):
        return self.inner.find_accepted(message, since=since)

    def close(self):
        pass


def _queue_sms(make_contact, count: int) -> list[OutboundMessage]:
    messages = []
    for n in range(count):
        contact = make_contact(email=f"p{n}@customer.example", phone=f"+1415555{n:04d}")
        messages.append(
            enqueue_message(
                channel=Channel.SMS,
                recipient=contact.phone,
                body_text=f"Hello {n}",
                idempotency_key=f"sms:{n}",
                contact=contact,
                now=NOW,
            )
        )
    db.session.commit()
    return messages


def _in_another_thread(app, work) -> None:
    """Run `work` as another worker would: its own thread, app context and database connection."""
    failure: list[BaseException] = []

    def run() -> None:
        with app.app_context():
            try:
                work()
            except BaseException as error:  # re-raised in the test's thread
                failure.append(error)
            finally:
                db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def test_send_timeouts_are_well_under_the_stale_limit(app):
    config = dict(
        app.config,
        SMTP_HOST="smtp.example",
        TWILIO_ACCOUNT_SID="AC" + "1" * 32,
        TWILIO_AUTH_TOKEN="token",
        TWILIO_FROM="+14155550000",
    )
    transports = transports_from_config(config)
    assert transports.email.timeout == 30
    assert transports.sms.client.http_client.timeout == 30  # the library's default is no timeout at all
    short = transports_from_config(dict(config, OUTBOX_STALE_SECONDS=60, OUTBOX_SEND_TIMEOUT_SECONDS=45))
    assert short.email.timeout == 15
    assert short.sms.client.http_client.timeout == 15


def test_a_stalled_worker_gives_its_untried_rows_back_and_a_second_worker_sends_each_sms_once(
    app, make_contact, twilio_http, sms_transport
):
    messages = _queue_sms(make_contact, 5)
    clock = Clock(NOW)
    fast = Transports(email=LogSmsTransport(), sms=sms_transport)
    other = Worker(app, transports=fast, worker_id="B", clock=clock)

    def other_worker_meanwhile() -> None:
        def work() -> None:
            reconcile_stale_messages(fast, now=clock(), stale_seconds=STALE)
            other.deliver_due()

        _in_another_thread(app, work)

    slow = Transports(
        email=LogSmsTransport(),
        sms=SlowSms(sms_transport, clock, step=STALE / 3, during=other_worker_meanwhile),
    )
    ids = claim_due_messages(worker_id="A", now=clock())
    stats = deliver_claimed(
        ids, slow, worker_id="A", clock=clock, release_at=clock() + timedelta(seconds=STALE / 2)
    )
    assert (stats.sent, stats.released) == (2, 3)
    db.session.expire_all()
    # The rows A gave back were never tried: their claim is not counted as an attempt.
    assert [m.attempts for m in messages[2:]] == [0, 0, 0]
    _in_another_thread(app, lambda: other.deliver_due())
    db.session.expire_all()
    assert [m.status for m in messages] == [MessageStatus.SENT] * 5
    per_recipient = Counter(create["data"]["To"] for create in twilio_http.creates)
    assert per_recipient == Counter(m.recipient for m in messages)  # each exactly once


def test_a_reconciler_never_takes_a_row_whose_claim_is_being_renewed(
    app, make_contact, twilio_http, sms_transport
):
    """The probe's case: a batch slower than OUTBOX_STALE_SECONDS while another worker reconciles."""
    messages = _queue_sms(make_contact, 5)
    clock = Clock(NOW)
    fast = Transports(email=LogSmsTransport(), sms=sms_transport)
    reconciled = []

    def reconcile_meanwhile() -> None:
        def work() -> None:
            reconciled.append(reconcile_stale_messages(fast, now=clock(), stale_seconds=STALE))
            Worker(app, transports=fast, worker_id="B", clock=clock).deliver_due()

        _in_another_thread(app, work)

    slow = Transports(
        email=LogSmsTransport(),
        sms=SlowSms(sms_transport, clock, step=STALE * 0.4, during=reconcile_meanwhile),
    )
    # No time limit on the batch: 5 sends take twice the stale limit, but each renews the claim.
    ids = claim_due_messages(worker_id="A", now=clock())
    assert deliver_claimed(ids, slow, worker_id="A", clock=clock).sent == 5
    assert reconciled == [0] * 5
    db.session.expire_all()
    assert [m.status for m in messages] == [MessageStatus.SENT] * 5
    assert len(twilio_http.creates) == 5


def test_the_worker_stops_a_batch_at_half_the_stale_limit_and_finishes_in_fresh_batches(
    app, make_contact, twilio_http, sms_transport
):
    messages = _queue_sms(make_contact, 5)
    clock = Clock(NOW)
    slow = Transports(email=LogSmsTransport(), sms=SlowSms(sms_transport, clock, step=STALE / 5))
    worker = Worker(app, transports=slow, worker_id="A", clock=clock)
    stats = worker.deliver_due()
    assert stats.sent == 5
    assert stats.released == 2  # the first batch stopped after 3 sends (3 x 120 s >= 300 s)
    db.session.expire_all()
    assert [m.attempts for m in messages] == [1] * 5
    assert len(twilio_http.creates) == 5


def test_a_row_taken_back_by_a_reconciler_is_not_sent_by_the_worker_that_lost_it(
    app, make_contact, twilio_http, sms_transport
):
    messages = _queue_sms(make_contact, 2)
    ids = claim_due_messages(worker_id="A", now=NOW)
    later = NOW + timedelta(seconds=STALE + 1)
    fast = Transports(email=LogSmsTransport(), sms=sms_transport)
    assert reconcile_stale_messages(fast, now=later, stale_seconds=STALE) == 2  # A looked dead
    Worker(app, transports=fast, worker_id="B", clock=lambda: later).deliver_due()
    # A wakes up and goes on with the batch it claimed long ago: it no longer holds the rows.
    assert deliver_claimed(ids, fast, worker_id="A", clock=lambda: later).sent == 0
    db.session.expire_all()
    assert [m.status for m in messages] == [MessageStatus.SENT] * 2
    assert len(twilio_http.creates) == 2


def test_many_workers_never_claim_more_than_a_batch(app):
    rows = [
        {
            "idempotency_key": f"bulk:{n}",
            "channel": Channel.EMAIL,
            "recipient": f"person{n}@customer.example",
            "subject": "Hi",
            "body_text": "Hello",
            "meta": {},
            "status": MessageStatus.QUEUED,
            "attempts": 0,
            "next_attempt_at": NOW,
            "created_at": NOW,
        }
        for n in range(300)
    ]
    db.session.execute(insert(OutboundMessage), rows)
    db.session.commit()
    claims: list[list[int]] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def claim_until_empty(name: str) -> None:
        with app.app_context():
            start.wait()
            while ids := claim_due_messages(worker_id=name, now=NOW, limit=7, mail_from="w@winback.example"):
                with lock:
                    claims.append(ids)
            db.session.remove()

    threads = [threading.Thread(target=claim_until_empty, args=(f"w{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert max(len(ids) for ids in claims) <= 7
    claimed = [message_id for ids in claims for message_id in ids]
    assert len(claimed) == len(set(claimed)) == 300


def _email(contact, key, subject="Two minutes?"):
    return enqueue_message(
        channel=Channel.EMAIL,
        recipient=contact.email,
        subject=subject,
        body_text="Hello",
        idempotency_key=key,
        contact=contact,
        now=NOW,
    )


def test_a_line_break_in_a_merge_value_never_becomes_a_header_and_the_batch_goes_on(
    app, make_contact, runner
):
    contacts = [make_contact(email=f"p{n}@customer.example") for n in range(11)]
    messages = [_email(c, f"k{n}") for n, c in enumerate(contacts)]
    hostile = messages[5]
    hostile.subject = "Your deal with Acme\r\nBcc: everyone@attacker.example"  # as a merge once produced
    db.session.commit()
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "Sent 11" in result.output
    db.session.expire_all()
    assert [m.status for m in messages] == [MessageStatus.SENT] * 11
    mail = Path(app.config["INSTANCE_DIR"]) / "mail"
    content = (mail / f"outbox-{hostile.id:08d}.eml").read_text()
    assert "Subject: Your deal with Acme Bcc: everyone@attacker.example" in content
    assert "\nBcc:" not in content
    for message in messages:
        (mail / f"outbox-{message.id:08d}.eml").unlink()


def test_subjects_are_stored_on_one_line(make_contact):
    message = _email(make_contact(), "k", subject="Hello\r\nBcc: x@attacker.example\nMore")
    assert message.subject == "Hello Bcc: x@attacker.example More"


class BreaksOn:
    """A transport for which one message cannot be built (an unexpected error, not a DeliveryError)."""

    simulated = True

    def __init__(self, bad_id: int) -> None:
        self.bad_id = bad_id
        self.sent: list[int] = []

    def send(self, message):
        if message.id == self.bad_id:
            raise ValueError("header value appears to contain an embedded header")
        self.sent.append(message.id)
        return LogSmsTransport().send(message)

    def close(self):
        pass


def test_a_message_that_cannot_be_built_fails_alone_with_its_reason_in_the_outbox(
    make_contact, login, make_user
):
    messages = [_email(make_contact(email=f"p{n}@customer.example"), f"k{n}") for n in range(5)]
    db.session.commit()
    transport = BreaksOn(messages[2].id)
    ids = claim_due_messages(worker_id="w1", now=NOW)
    stats = deliver_claimed(
        ids, Transports(email=transport, sms=LogSmsTransport()), worker_id="w1", clock=lambda: NOW
    )
    assert (stats.sent, stats.failed) == (4, 1)
    assert transport.sent == [m.id for m in messages if m is not messages[2]]
    db.session.expire_all()
    assert messages[2].status is MessageStatus.FAILED
    assert messages[2].error_code == "send_error"
    page = login(make_user()).get("/outbox?status=failed").get_data(as_text=True)
    assert "header value appears to contain an embedded header" in page
    assert db.session.scalar(select(OutboundMessage.status).where(OutboundMessage.id == messages[0].id)) == (
        MessageStatus.SENT
    )
