"""Recording consent: every recorded call is announced; in all-party-consent states, and where the
state is unknown, the recording starts only once the announcement has played. Supervisors play
recordings through the app (callers cannot), and each play is audited."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import requests
from requests.adapters import BaseAdapter
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.models import Role
from app.extensions import db
from campaigns.calls.consent import ALL_PARTY_STATES, RecordingPlan, all_party_consent, recording_plan
from campaigns.calls.dialing import DialLimits, start_call
from campaigns.calls.models import CallAttempt
from campaigns.calls.queue import claim_next_task
from campaigns.calls.voice import bridge_twiml
from tests.calls.conftest import LEASE, NOW
from tests.calls.twilio_fake import ACCOUNT_SID, CALL_SID, TWILIO_FROM
from tests.conftest import PASSWORD

BASE = "http://winback.test"
RECORDING_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/RE{'d' * 32}"


def _xml(text) -> ET.Element:
    return ET.fromstring(text)  # noqa: S314 (TwiML this app wrote)


@pytest.mark.parametrize(
    ("phone", "state", "plan"),
    [
        ("+12125550100", None, RecordingPlan.FROM_ANSWER),  # New York: one party
        ("+14155550100", None, RecordingPlan.AFTER_NOTICE),  # San Francisco, CA
        ("+13055550100", None, RecordingPlan.AFTER_NOTICE),  # Florida
        ("+12065550100", None, RecordingPlan.AFTER_NOTICE),  # Seattle, WA
        ("+15555550100", None, RecordingPlan.AFTER_NOTICE),  # no state from the number: unknown
        ("+12125550100", "Illinois", RecordingPlan.AFTER_NOTICE),  # a New York number, an Illinois address
        ("+12125550100", "TX", RecordingPlan.FROM_ANSWER),
        ("+15555550100", "TX", RecordingPlan.FROM_ANSWER),  # the address alone says where
    ],
)
def test_the_recording_plan_follows_the_contacts_state(make_queue, phone, state, plan):
    queue = make_queue(1, fill=False)
    contact = queue.contacts[0]
    contact.phone, contact.state = phone, state
    assert recording_plan(contact, phone, recorded=True) is plan
    assert recording_plan(contact, phone, recorded=False) is RecordingPlan.NONE


def test_the_all_party_states_are_the_twelve(make_queue):
    assert {"CA", "CT", "FL", "IL", "MD", "MA", "MI", "MT", "NV", "NH", "PA", "WA"} == ALL_PARTY_STATES
    contact = make_queue(1, fill=False).contacts[0]
    contact.phone = "+15555550100"
    for state in sorted(ALL_PARTY_STATES):
        contact.state = state
        assert all_party_consent(contact), state
    contact.state = "NY"
    assert not all_party_consent(contact)


def _attempt(make_queue, phone, *, consent=True):
    queue = make_queue(1, phones=[phone], call_recording=True)
    task = claim_next_task(queue.caller, now=NOW, lease_seconds=LEASE)
    attempt = start_call(
        task, queue.caller, now=NOW, limits=DialLimits(), lease_seconds=LEASE, recording_consent=consent
    )
    attempt.twilio_call_sid = CALL_SID
    db.session.commit()
    return attempt


def test_a_one_party_state_records_from_the_answer_after_the_notice(make_queue):
    attempt = _attempt(make_queue, "+12125550100")
    dial = _xml(bridge_twiml(attempt, from_number=TWILIO_FROM, base_url=BASE)).find("Dial")
    assert dial.get("record") == "record-from-answer-dual"
    assert dial.find("Number").get("url") == f"{BASE}/twilio/voice/announce/{attempt.callback_token}"


def test_an_all_party_state_is_not_recorded_by_the_dial(make_queue):
    attempt = _attempt(make_queue, "+14155550100")
    dial = _xml(bridge_twiml(attempt, from_number=TWILIO_FROM, base_url=BASE)).find("Dial")
    assert dial.get("record") is None
    assert dial.find("Number").get("url") == f"{BASE}/twilio/voice/announce/{attempt.callback_token}"


def test_without_consent_nothing_is_recorded_or_announced(make_queue):
    attempt = _attempt(make_queue, "+14155550100", consent=False)
    dial = _xml(bridge_twiml(attempt, from_number=TWILIO_FROM, base_url=BASE)).find("Dial")
    assert dial.get("record") is None
    assert dial.find("Number").get("url") is None


def test_all_party_recording_starts_only_once_the_notice_has_played(make_queue, voice_client, twilio_voice):
    attempt = _attempt(make_queue, "+14155550100")
    token = attempt.callback_token
    notice = _xml(voice_client(f"/twilio/voice/announce/{token}", {"CallSid": "CA9"}).get_data())
    gather = notice.find("Gather")
    assert gather.get("action") == f"{BASE}/twilio/voice/announced/{token}"
    assert gather.get("actionOnEmptyResult") == "true"
    assert "recorded" in gather.find("Say").text
    assert twilio_voice.requests == []  # the notice is playing: nothing recorded yet
    response = voice_client(f"/twilio/voice/announced/{token}", {"CallSid": "CA9"})
    assert _xml(response.get_data()).find("*") is None  # an empty response: the bridge goes on
    (request,) = twilio_voice.requests
    assert request["url"].endswith(f"/Calls/{CALL_SID}/Recordings.json")
    assert request["data"]["RecordingStatusCallback"] == f"{BASE}/twilio/voice/recording/{token}"
    db.session.expire_all()
    assert db.session.get(CallAttempt, attempt.id).announced_at is not None
    voice_client(f"/twilio/voice/announced/{token}", {"CallSid": "CA9"})  # Twilio retried
    assert len(twilio_voice.requests) == 1


def test_one_party_notice_is_played_without_waiting(make_queue, voice_client, twilio_voice):
    attempt = _attempt(make_queue, "+12125550100")
    notice = _xml(
        voice_client(f"/twilio/voice/announce/{attempt.callback_token}", {"CallSid": "CA9"}).get_data()
    )
    assert notice.find("Gather") is None
    assert "recorded" in notice.find("Say").text
    assert twilio_voice.requests == []


class FakeMedia(BaseAdapter):
    """Twilio's media host: the recording's bytes, for the account's credentials only."""

    def __init__(self) -> None:
        super().__init__()
        self.requests = []

    def send(self, request, **kwargs):
        self.requests.append(request)
        response = requests.Response()
        response.status_code = 200 if request.headers.get("Authorization", "").startswith("Basic ") else 401
        response._content = b"ID3-fake-mp3"
        response.url = request.url
        return response

    def close(self) -> None:
        pass


@pytest.fixture
def media(app, monkeypatch):
    session = requests.Session()
    adapter = FakeMedia()
    session.mount("https://", adapter)
    monkeypatch.setitem(app.extensions, "twilio_media_session", session)
    return adapter


def test_supervisors_play_recordings_and_each_play_is_audited(
    app, make_queue, make_user, login, voice_client, twilio_voice, media
):
    attempt = _attempt(make_queue, "+12125550100")
    form = {
        "RecordingSid": "RE" + "d" * 32,
        "RecordingUrl": RECORDING_URL,
        "RecordingDuration": "42",
        "RecordingStatus": "completed",
    }
    assert voice_client(f"/twilio/voice/recording/{attempt.callback_token}", form).status_code == 204
    caller = db.session.get(CallAttempt, attempt.id).caller
    assert login(caller).get(f"/calls/supervisor/attempts/{attempt.id}/recording").status_code == 403
    assert media.requests == []
    admin = make_user(Role.ADMIN)
    client = app.test_client()
    client.post("/login", data={"email": admin.email, "password": PASSWORD})
    response = client.get(f"/calls/supervisor/attempts/{attempt.id}/recording")
    assert response.status_code == 200
    assert response.mimetype == "audio/mpeg"
    assert response.get_data() == b"ID3-fake-mp3"
    assert media.requests[0].url == f"{RECORDING_URL}.mp3"
    (event,) = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "call.recording_played")
    ).all()
    assert (event.entity_id, event.actor_id) == (attempt.id, admin.id)


def test_a_recording_url_outside_twilio_is_not_kept(make_queue, voice_client, twilio_voice):
    attempt = _attempt(make_queue, "+12125550100")
    form = {
        "RecordingSid": "RE" + "d" * 32,
        "RecordingUrl": "https://evil.example/steal",
        "RecordingStatus": "completed",
    }
    voice_client(f"/twilio/voice/recording/{attempt.callback_token}", form)
    db.session.expire_all()
    assert db.session.get(CallAttempt, attempt.id).recording_url is None
