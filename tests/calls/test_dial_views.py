"""Pressing Call on the caller's screen: the attempt is committed before Twilio rings, Twilio's failures
are told in a sentence, the screen shows only a lease still held, and a disposition is one unit of work."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from sqlalchemy import event, select, text, update

from app.auth.models import Role
from app.db_types import utcnow
from app.extensions import db
from campaigns.calls.models import CallAttempt, CallTask, TaskStatus
from campaigns.calls.voice import DEFAULT_TIMEOUT_SECONDS, dialer_from_config
from campaigns.models import CampaignStatus
from tests.calls.twilio_fake import CALL_SID
from tests.conftest import PASSWORD


def _next(client) -> str:
    return client.post("/calls/next").headers["Location"]


def _task(location: str) -> CallTask:
    return db.session.get(CallTask, int(location.rsplit("/", 1)[1]))


def _attempts() -> list[CallAttempt]:
    return list(db.session.scalars(select(CallAttempt).order_by(CallAttempt.id)))


def _short_lock_wait(connection) -> None:
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA busy_timeout = 300")
    else:
        connection.exec_driver_sql("SET lock_timeout = '300ms'")


def test_the_attempt_is_committed_and_no_write_is_open_while_twilio_answers(live_queue, login, twilio_voice):
    queue = live_queue(1)
    client = login(queue.caller)
    location = _next(client)
    seen = {}

    def from_another_connection():
        with db.engine.connect() as other:
            _short_lock_wait(other)
            seen["attempts"] = other.execute(select(CallAttempt.id)).scalars().all()
            # Another caller's claim or a respondent's save is not kept waiting for Twilio.
            other.execute(update(CallTask).values(priority=CallTask.priority))
            other.commit()
            other.invalidate()  # its short lock wait must not go back to the pool

    twilio_voice.before_answer = from_another_connection
    response = client.post(f"{location}/dial", follow_redirects=True)
    assert "Your phone will ring" in response.get_data(as_text=True)
    (attempt,) = _attempts()
    assert seen["attempts"] == [attempt.id]
    assert attempt.twilio_call_sid == CALL_SID


@pytest.mark.parametrize(
    "error",
    [
        requests.exceptions.ProxyError("Connection reset by peer"),
        requests.exceptions.ConnectionError("Name or service not known"),
        requests.exceptions.ReadTimeout("Read timed out. (read timeout=10)"),
    ],
)
def test_a_network_error_from_twilio_is_a_clear_message_not_a_500(live_queue, login, twilio_voice, error):
    queue = live_queue(1)
    client = login(queue.caller)
    location = _next(client)
    twilio_voice.error = error
    response = client.post(f"{location}/dial")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Twilio could not place the call" in page
    assert "nothing was dialled" in page
    assert _attempts() == []
    assert _task(location).attempts == 0
    twilio_voice.error = None  # the caller presses Call again, and it rings
    assert "Your phone will ring" in client.post(f"{location}/dial", follow_redirects=True).get_data(
        as_text=True
    )


def test_the_twilio_request_has_a_timeout(app):
    settings = {
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "TWILIO_AUTH_TOKEN": "token",
        "TWILIO_FROM": "+14155550000",
        "PUBLIC_BASE_URL": "https://winback.example",
    }
    assert dialer_from_config(settings).client.http_client.timeout == DEFAULT_TIMEOUT_SECONDS
    settings["TWILIO_VOICE_TIMEOUT_SECONDS"] = "4"
    assert dialer_from_config(settings).client.http_client.timeout == 4


def test_back_then_call_after_no_answer_does_not_dial_again(live_queue, login):
    queue = live_queue(2)
    client = login(queue.caller)
    location = _next(client)
    client.post(f"{location}/dial")
    client.post(f"{location}/disposition", data={"disposition": "no_answer", "then": "stop"})
    response = client.post(f"{location}/dial", follow_redirects=True)  # Back, then Call
    assert "not yours to dial" in response.get_data(as_text=True)
    again = client.post(f"{location}/disposition", data={"disposition": "no_answer", "then": "stop"})
    assert again.status_code == 422
    assert len(_attempts()) == 1
    task = _task(location)
    assert (task.status, task.attempts) == (TaskStatus.READY, 1)


def test_a_paused_campaign_is_not_dialled_from_the_screen(live_queue, login):
    queue = live_queue(1)
    client = login(queue.caller)
    location = _next(client)
    queue.campaign.status = CampaignStatus.PAUSED
    db.session.commit()
    response = client.post(f"{location}/dial", follow_redirects=True)
    assert "The campaign is paused" in response.get_data(as_text=True)
    assert _attempts() == []


def test_the_queue_page_does_not_offer_a_call_whose_lease_lapsed(live_queue, login):
    queue = live_queue(1)
    client = login(queue.caller)
    location = _next(client)
    name = _task(location).contact.full_name
    assert "you are on a call with" in client.get("/calls").get_data(as_text=True)
    db.session.execute(update(CallTask).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    page = client.get("/calls").get_data(as_text=True)
    assert "you are on a call with" not in page
    assert name not in page
    assert 'id="dial"' not in client.get(location).get_data(as_text=True)


def test_a_disposition_is_recorded_in_one_commit(live_queue, login, survey_version):
    queue = live_queue(2, survey_version=survey_version)
    client = login(queue.caller)
    location = _next(client)
    commits = []

    def listener(session):
        if not session.in_nested_transaction():  # savepoints released inside are not commits
            commits.append(session)

    event.listen(db.session, "after_commit", listener)
    try:
        client.get(location)
        per_request = len(commits)  # what signing in commits on every request
        commits.clear()
        response = client.post(f"{location}/disposition", data={"disposition": "busy", "notes": "Engaged"})
    finally:
        event.remove(db.session, "after_commit", listener)
    assert len(commits) == per_request + 1
    assert (response.status_code, response.headers["Location"]) == (307, "/calls/next")
    assert db.session.scalar(select(CallAttempt.notes)) == "Engaged"


def test_do_not_call_is_decided_once_by_the_opt_out(live_queue, login):
    queue = live_queue(1)
    client = login(queue.caller)
    location = _next(client)
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()).lower())

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        client.post(f"{location}/disposition", data={"disposition": "do_not_call", "then": "stop"})
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    ended = [s for s in statements if s.startswith("update enrollments set status")]
    cancelled = [s for s in statements if s.startswith("update call_tasks") and "call_tasks.contact_id" in s]
    assert (len(ended), len(cancelled)) == (1, 1)
    assert _task(location).status is TaskStatus.CANCELLED
    assert (
        db.session.scalar(text("SELECT count(*) FROM audit_events WHERE action = 'contact.opted_out'")) == 1
    )


def test_an_admin_can_open_a_held_call_but_only_its_holder_dials_it(app, live_queue, login, make_user):
    queue = live_queue(1)
    location = _next(login(queue.caller))
    admin = make_user(Role.ADMIN)
    queue.campaign.callers.append(admin)
    db.session.commit()
    client = app.test_client()
    client.post("/login", data={"email": admin.email, "password": PASSWORD})
    assert client.get(location).status_code == 200
    assert "not yours to dial" in client.post(f"{location}/dial", follow_redirects=True).get_data(
        as_text=True
    )
    assert _attempts() == []
