"""kill -9 of a real `flask worker` process mid-batch, against a real (slow) SMTP server (issue #10).

Only the message in flight may become `unknown`; what was delivered is `sent`, never queued again;
what was never tried goes back to the queue and is delivered once by the next worker.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from datetime import timedelta

from aiosmtpd.controller import Controller
from sqlalchemy import select

from app.db_types import utcnow
from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.models import MessageStatus, OutboundMessage
from app.messaging.reconciliation import reconcile_stale_messages
from app.messaging.service import enqueue_message
from app.messaging.transports import transports_from_config
from tests.killed import kill9, run_flask, start_flask, wait_for, worker_env
from tests.messaging.conftest import SmtpSink, _free_port

MESSAGES = 12
MESSAGE_ID = re.compile(rb"Message-ID: <outbox-(\d+)@", re.IGNORECASE)


class SlowSink(SmtpSink):
    """An SMTP server that takes `delay` seconds to answer each message (after it has it)."""

    delay = 0.3

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        answer = await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(self.delay)
        return answer


def _received_ids(sink: SmtpSink) -> list[int]:
    with sink.lock:
        return [int(MESSAGE_ID.search(mail.content).group(1)) for mail in sink.received]


def _statuses() -> dict[int, MessageStatus]:
    db.session.expire_all()
    statuses = {
        row.id: row.status for row in db.session.execute(select(OutboundMessage.id, OutboundMessage.status))
    }
    db.session.commit()
    return statuses


def test_a_worker_killed_mid_batch_leaves_one_unknown_and_requeues_the_untried(
    app, make_app, make_contact, database_url, tmp_path
):
    for n in range(MESSAGES):
        contact = make_contact(email=f"p{n}@customer.example")
        enqueue_message(
            channel=Channel.EMAIL,
            recipient=contact.email,
            subject="Two minutes?",
            body_text="Hello",
            idempotency_key=f"kill:{n}",
            contact=contact,
            now=utcnow(),
        )
    db.session.commit()
    ids = sorted(_statuses())

    sink = SlowSink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    env = worker_env(
        database_url,
        tmp_path / "instance",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=port,
        SMTP_STARTTLS="0",
        MAIL_FROM="Winback <surveys@winback.example>",
    )
    log = tmp_path / "worker.log"
    worker = start_flask(["worker", "--poll", "0.2"], env, log)
    try:
        wait_for(lambda: len(_received_ids(sink)) >= 4, timeout=30, process=worker, log=log)
        kill9(worker)
        time.sleep(2 * SlowSink.delay)  # the server finishes with whatever reached it before the kill
        received = set(_received_ids(sink))
        assert 4 <= len(received) < MESSAGES  # killed mid-batch

        # The killed worker's rows are still `sending`: a second worker's reconciler settles them once
        # their claim is older than its stale limit (shortened here).
        assert MessageStatus.SENDING in _statuses().values()
        second = make_app(OUTBOX_STALE_SECONDS=1)
        later = utcnow() + timedelta(seconds=1.1)  # the limit has passed: no need to wait it out
        with second.app_context():
            transports = transports_from_config(second.config)
            reconcile_stale_messages(
                transports, now=later, stale_seconds=second.config["OUTBOX_STALE_SECONDS"]
            )
            db.session.remove()

        statuses = _statuses()
        unknown = [i for i, status in statuses.items() if status is MessageStatus.UNKNOWN]
        assert len(unknown) <= 1, statuses  # only the one in flight
        for message_id in received:
            assert statuses[message_id] in (MessageStatus.SENT, MessageStatus.UNKNOWN), statuses
        never_tried = [i for i in ids if i not in received and i not in unknown]
        assert never_tried
        assert all(statuses[i] is MessageStatus.QUEUED for i in never_tried), statuses
        assert set(statuses.values()) <= {MessageStatus.SENT, MessageStatus.UNKNOWN, MessageStatus.QUEUED}
        for message in db.session.scalars(select(OutboundMessage).where(OutboundMessage.id.in_(never_tried))):
            assert message.attempts == 0  # the attempt it never had is not counted
        db.session.commit()

        again = run_flask(["worker", "--once"], env)
        assert again.returncode == 0, again.stdout + again.stderr
    finally:
        kill9(worker)
        controller.stop()

    counts = Counter(_received_ids(sink))
    # Everyone got their email once; the one in flight when the worker died maybe (never twice).
    assert set(counts) | set(unknown) == set(ids)
    assert all(count == 1 for count in counts.values()), counts
    statuses = _statuses()
    assert [i for i, s in statuses.items() if s is not MessageStatus.SENT] == unknown
