"""kill -9 of a real process pressing Call while Twilio has not answered yet (issue #24, item 5).

Twilio may already have placed the call when the process dies. The attempt it was placed for must be
committed (it was, before Twilio was asked), the URL Twilio holds names it by a token nobody else gets,
and once the lease expires and another caller dials the contact, that old URL hangs up: the first
caller is never put through to anyone.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import timedelta

from sqlalchemy import select

from app.auth.models import Role
from app.db_types import utcnow
from app.extensions import db
from campaigns.calls.models import CallAttempt, CallTask, TaskStatus
from campaigns.calls.queue import claim_next_task
from tests.calls.conftest import LEASE
from tests.killed import kill9, start_module, wait_for, worker_env

# Past the lease and past the spacing the queue keeps between two calls to one contact (60 minutes):
# the next caller can be given the same task again.
AFTER_THE_LEASE = timedelta(minutes=61)


def _attempts(task_id: int) -> list[CallAttempt]:
    db.session.expire_all()
    attempts = db.session.scalars(
        select(CallAttempt).where(CallAttempt.task_id == task_id).order_by(CallAttempt.id)
    ).all()
    db.session.commit()  # no read transaction held open while another process writes
    return attempts


def _bridge(voice_client, token: str) -> ET.Element:
    response = voice_client(f"/twilio/voice/bridge/{token}", {"CallSid": "CA1", "From": "+14155550100"})
    assert response.status_code == 200
    return ET.fromstring(response.get_data())  # noqa: S314 (TwiML this app wrote)


def _bridge_url(app, token: str) -> str:
    return f"{app.config['PUBLIC_BASE_URL'].rstrip('/')}/twilio/voice/bridge/{token}"


def test_a_dial_killed_while_twilio_rings_leaves_its_attempt_and_its_url_never_reaches_the_next_call(
    app, live_queue, make_user, login, twilio_voice, voice_client, database_url, tmp_path
):
    queue = live_queue(1)
    other = make_user(Role.CALLER, phone="+14155550199")
    queue.campaign.callers.append(other)
    task = claim_next_task(queue.caller, now=utcnow(), lease_seconds=LEASE)
    task_id, contact_phone = task.id, task.contact.phone
    caller_email, caller_phone = queue.caller.email, queue.caller.phone
    db.session.commit()

    record = tmp_path / "twilio-calls-request.json"
    env = worker_env(
        database_url,
        tmp_path / "instance",
        DIAL_TASK_ID=task_id,
        DIAL_CALLER_EMAIL=caller_email,
        DIAL_RECORD=record,
    )
    log = tmp_path / "dial.log"
    dialling = start_module("tests.calls.dial_process", env, log)
    try:
        wait_for(record.exists, timeout=60, process=dialling, log=log)
        kill9(dialling)  # Twilio has the request (and may place the call); the process never hears back
    finally:
        kill9(dialling)
    asked = json.loads(record.read_text())

    # The attempt Twilio was asked to ring for is in the database, still open, and its URL names it.
    attempts = _attempts(task_id)
    assert len(attempts) == 1, "Twilio was asked to ring for an attempt the database does not have"
    first = attempts[0]
    assert (first.caller_id, first.phone) == (queue.caller.id, contact_phone)
    assert (first.disposition, first.abandoned_at, first.ended_at) == (None, None, None)
    assert first.twilio_call_sid is None  # the answer never came
    assert asked["To"] == caller_phone
    assert asked["Url"] == _bridge_url(app, first.callback_token)
    first_token = first.callback_token
    db.session.commit()

    # The caller never comes back: once the lease expires another caller is given the task and dials.
    later = utcnow() + AFTER_THE_LEASE
    assert claim_next_task(other, now=later, lease_seconds=LEASE).id == task_id
    db.session.commit()
    login(other).post(f"/calls/tasks/{task_id}/dial")
    first, second = _attempts(task_id)
    assert first.abandoned_at == later  # closed with the lease that held it
    assert (second.caller_id, second.phone, second.abandoned_at) == (other.id, contact_phone, None)
    assert second.callback_token != first_token
    assert [request["data"]["Url"] for request in twilio_voice.requests] == [
        _bridge_url(app, second.callback_token)
    ]
    assert db.session.get(CallTask, task_id).status is TaskStatus.LEASED

    # Twilio placed the first call anyway and the first caller answers: hang up, dial nobody.
    stale = _bridge(voice_client, first_token)
    assert stale.find("Dial") is None
    assert stale.find("Hangup") is not None
    # The second caller's own call is put through to the contact.
    assert _bridge(voice_client, second.callback_token).findtext("Dial/Number") == contact_phone
