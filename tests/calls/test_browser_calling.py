"""Browser calling: tokens only for a held lease, the TwiML App dials the leased task's number and
nothing the request says, answering-machine detection suggests voicemail, the voicemail drop plays the
campaign's message. The twilio library is real; only its HTTP transport is faked."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import jwt
import pytest
from sqlalchemy import select

from app.auth.models import Role
from app.extensions import db
from campaigns.calls.models import CallAttempt, CallTask, Disposition, TaskStatus
from tests.calls.twilio_fake import ACCOUNT_SID, CALL_SID
from tests.conftest import PASSWORD

API_KEY_SID = "SK" + "2" * 32
API_KEY_SECRET = "a-test-api-key-secret-of-32-bytes-or-more"  # noqa: S105
APP_SID = "AP" + "3" * 32
CONTACT_LEG = "CA" + "c" * 32
BROWSER_CALL = "CA" + "b" * 32


@pytest.fixture
def browser_voice(app, twilio_voice, monkeypatch):
    """Twilio voice with browser calling set up (API key and TwiML App)."""
    monkeypatch.setitem(app.config, "TWILIO_API_KEY_SID", API_KEY_SID)
    monkeypatch.setitem(app.config, "TWILIO_API_KEY_SECRET", API_KEY_SECRET)
    monkeypatch.setitem(app.config, "TWILIO_TWIML_APP_SID", APP_SID)
    return twilio_voice


def _claim(client) -> CallTask:
    location = client.post("/calls/next").headers["Location"]
    return db.session.get(CallTask, int(location.rsplit("/", 1)[1]))


def _xml(body: bytes) -> ET.Element:
    return ET.fromstring(body)  # noqa: S314 (TwiML this app wrote)


def _connect(voice_client, caller, task, **extra):
    params = {"CallSid": BROWSER_CALL, "From": f"client:caller-{caller.id}", "task_id": str(task.id), **extra}
    response = voice_client("/twilio/voice/client", params)
    assert response.status_code == 200
    return _xml(response.get_data())


def _attempt() -> CallAttempt:
    return db.session.scalars(select(CallAttempt)).one()


# ------------------------------------------------------------------------------------------ tokens


def test_the_token_is_refused_without_a_lease(live_queue, login, browser_voice):
    queue = live_queue(1)
    client = login(queue.caller)
    task = db.session.scalars(select(CallTask)).one()
    assert task.status is TaskStatus.READY
    response = client.post(f"/calls/tasks/{task.id}/voice-token")
    assert response.status_code == 403
    assert b'"token"' not in response.get_data()


def test_the_token_is_refused_for_another_callers_task(app, live_queue, login, make_user, browser_voice):
    queue = live_queue(2)
    task = _claim(login(queue.caller))
    other = make_user(Role.CALLER)
    queue.campaign.callers.append(other)
    db.session.commit()
    client = app.test_client()
    assert client.post("/login", data={"email": other.email, "password": PASSWORD}).status_code == 302
    own = _claim(client)  # the other caller holds a lease of their own
    assert own.id != task.id
    assert client.post(f"/calls/tasks/{own.id}/voice-token").status_code == 200
    response = client.post(f"/calls/tasks/{task.id}/voice-token")
    assert response.status_code == 403


def test_the_lease_holder_gets_a_short_lived_voice_token(app, live_queue, login, browser_voice):
    queue = live_queue(1)
    client = login(queue.caller)
    task = _claim(client)
    response = client.post(f"/calls/tasks/{task.id}/voice-token")
    assert response.status_code == 200
    body = response.get_json()
    claims = jwt.decode(body["token"], API_KEY_SECRET, algorithms=["HS256"])
    assert claims["iss"] == API_KEY_SID
    assert claims["sub"] == ACCOUNT_SID
    assert claims["grants"]["identity"] == f"caller-{queue.caller.id}" == body["identity"]
    assert claims["grants"]["voice"]["outgoing"]["application_sid"] == APP_SID
    assert "incoming" not in claims["grants"]["voice"] or not claims["grants"]["voice"]["incoming"]["allow"]
    assert claims["exp"] - claims["nbf"] <= app.config["TWILIO_VOICE_TOKEN_TTL"] + 5


def test_the_page_says_which_mode_is_active_and_why(live_queue, login, twilio_voice, monkeypatch, app):
    queue = live_queue(1)
    client = login(queue.caller)
    task = _claim(client)
    page = client.get(f"/calls/tasks/{task.id}").get_data(as_text=True)
    assert "Twilio rings your phone." in page
    assert "Browser calling is not set up" in page
    assert "vendor/twilio-voice/twilio.min.js" not in page
    monkeypatch.setitem(app.config, "TWILIO_API_KEY_SID", API_KEY_SID)
    monkeypatch.setitem(app.config, "TWILIO_API_KEY_SECRET", API_KEY_SECRET)
    monkeypatch.setitem(app.config, "TWILIO_TWIML_APP_SID", APP_SID)
    response = client.get(f"/calls/tasks/{task.id}")
    page = response.get_data(as_text=True)
    assert "Browser calling." in page
    assert "softphone-mute" in page
    assert "softphone-hangup" in page
    assert page.count('data-dtmf="') == 12
    assert '<script src="/static/vendor/twilio-voice/twilio.min.js"' in page  # served here, no CDN
    assert "wss://*.twilio.com" in response.headers["Content-Security-Policy"]


# ------------------------------------------------------------------------------------ the TwiML App


def test_the_voice_webhook_dials_the_leased_tasks_number_and_ignores_any_number_sent(
    live_queue, login, voice_client, browser_voice
):
    queue = live_queue(1)
    task = _claim(login(queue.caller))
    root = _connect(
        voice_client, queue.caller, task, To="+19005550000", number="+19005550001", phone="+19005550002"
    )
    (number,) = root.findall("Dial/Number")
    assert number.text == task.contact.phone
    assert number.get("machineDetection") == "DetectMessageEnd"
    assert number.get("amdStatusCallback").endswith(f"/twilio/voice/amd/{_attempt().callback_token}")
    attempt = _attempt()
    assert (attempt.phone, attempt.mode, attempt.twilio_call_sid) == (
        task.contact.phone,
        "browser",
        BROWSER_CALL,
    )
    assert attempt.connected_at is not None
    # A second request for the same call (Twilio retried) does not start another attempt.
    _connect(voice_client, queue.caller, task)
    assert db.session.scalars(select(CallAttempt)).one().id == attempt.id


def test_the_voice_webhook_will_not_dial_another_callers_task(
    live_queue, login, make_user, voice_client, browser_voice
):
    queue = live_queue(1)
    task = _claim(login(queue.caller))
    other = make_user(Role.CALLER)
    queue.campaign.callers.append(other)
    db.session.commit()
    root = _connect(voice_client, other, task)
    assert root.find("Dial") is None
    assert root.find("Hangup") is not None
    assert db.session.scalars(select(CallAttempt)).all() == []


@pytest.mark.parametrize("path", ["/twilio/voice/client", "/twilio/voice/amd/x", "/twilio/voice/announced/x"])
@pytest.mark.parametrize("kind", ["unsigned", "forged"])
def test_forged_voice_webhooks_are_refused(live_queue, login, voice_client, browser_voice, path, kind):
    queue = live_queue(1)
    task = _claim(login(queue.caller))
    params = {"CallSid": BROWSER_CALL, "From": f"client:caller-{queue.caller.id}", "task_id": str(task.id)}
    response = voice_client(path, params, sign=kind != "unsigned", signature="bm90IGEgc2lnbmF0dXJl")
    assert response.status_code == 403
    assert db.session.scalars(select(CallAttempt)).all() == []


# ------------------------------------------------------------------ machine detection, voicemail drop


@pytest.mark.parametrize(("answered_by", "suggested"), [("machine_end_beep", "voicemail"), ("human", None)])
def test_a_machine_suggests_the_voicemail_disposition(
    live_queue, login, voice_client, browser_voice, answered_by, suggested
):
    queue = live_queue(1)
    client = login(queue.caller)
    task = _claim(client)
    _connect(voice_client, queue.caller, task)
    attempt = _attempt()
    params = {"CallSid": CONTACT_LEG, "ParentCallSid": BROWSER_CALL, "AnsweredBy": answered_by}
    assert voice_client(f"/twilio/voice/amd/{attempt.callback_token}", params).status_code == 204
    db.session.expire_all()
    assert _attempt().contact_call_sid == CONTACT_LEG
    state = client.get(f"/calls/tasks/{task.id}/call-state").get_json()["call"]
    assert state["answered_by"] == answered_by
    assert state["suggested"] == suggested


@pytest.mark.parametrize(
    ("fields", "played"),
    [
        (
            {"voicemail_audio_url": "https://media.example.com/winback.mp3"},
            ("Play", "https://media.example.com/winback.mp3"),
        ),
        (
            {"voicemail_text": "Hello from Acme, we will call again."},
            ("Say", "Hello from Acme, we will call again."),
        ),
    ],
)
def test_the_voicemail_drop_plays_the_campaigns_message_and_moves_on(
    live_queue, login, voice_client, browser_voice, fields, played
):
    queue = live_queue(2, **fields)
    client = login(queue.caller)
    task = _claim(client)
    _connect(voice_client, queue.caller, task)
    attempt = _attempt()
    voice_client(
        f"/twilio/voice/amd/{attempt.callback_token}",
        {"CallSid": CONTACT_LEG, "ParentCallSid": BROWSER_CALL, "AnsweredBy": "machine_end_beep"},
    )
    response = client.post(f"/calls/tasks/{task.id}/voicemail-drop", data={"notes": "left at the beep"})
    assert response.status_code == 307
    assert response.headers["Location"].endswith("/calls/next")
    (update,) = browser_voice.updates(CONTACT_LEG)
    twiml = _xml(update["Twiml"].encode())
    assert twiml.find(played[0]).text == played[1]
    assert twiml.find("Hangup") is not None
    assert browser_voice.hang_ups() == []  # the caller's leg ends with the bridge, not before the message
    db.session.expire_all()
    attempt = _attempt()
    assert attempt.disposition is Disposition.VOICEMAIL
    assert attempt.notes == "left at the beep\nVoicemail dropped."


def test_without_a_voicemail_message_nothing_is_dropped(live_queue, login, voice_client, browser_voice):
    queue = live_queue(1)
    client = login(queue.caller)
    task = _claim(client)
    _connect(voice_client, queue.caller, task)
    response = client.post(f"/calls/tasks/{task.id}/voicemail-drop", follow_redirects=True)
    assert "no voicemail message" in response.get_data(as_text=True)
    assert browser_voice.updates(CONTACT_LEG) == []
    db.session.expire_all()
    assert _attempt().disposition is None
    assert CALL_SID not in [r["url"] for r in browser_voice.requests]
