"""Pressing "Call": everything checked again, and click-to-call through the real twilio library."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from app.db_types import utcnow
from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.models import DoNotContactKind
from app.messaging.service import add_do_not_contact, opt_out_contact
from campaigns.calls.dialing import DialLimits, NotDialable, ring_caller, start_call
from campaigns.calls.models import CallAttempt, CallTask, Disposition, TaskStatus
from campaigns.calls.queue import claim_next_task
from campaigns.calls.voice import TwilioDialer, bridge_twiml
from tests.calls.conftest import LEASE, NOW
from tests.calls.twilio_fake import ACCOUNT_SID, AUTH_TOKEN, TWILIO_FROM, FakeTwilioVoice

LIMITS = DialLimits()
BASE = "http://winback.test"


def _xml(text) -> ET.Element:
    return ET.fromstring(text)  # noqa: S314 (TwiML this app wrote)


def _claimed(queue):
    task = claim_next_task(queue.caller, now=NOW, lease_seconds=LEASE)
    db.session.commit()
    return task


def _call(task, queue, **kwargs):
    return start_call(task, queue.caller, now=NOW, limits=LIMITS, lease_seconds=LEASE, **kwargs)


def test_a_contact_who_opts_out_by_sms_while_leased_cannot_be_dialled(make_queue):
    queue = make_queue(1)
    task = _claimed(queue)
    opt_out_contact(task.contact, Channel.SMS, source="SMS reply STOP", now=NOW)
    db.session.commit()
    with pytest.raises(NotDialable):
        _call(task, queue)
    db.session.commit()
    assert db.session.get(CallTask, task.id).status is TaskStatus.CANCELLED
    assert db.session.scalar(select(CallAttempt)) is None


def test_a_number_put_on_the_do_not_contact_list_while_leased_is_not_dialled(make_queue):
    queue = make_queue(1)
    task = _claimed(queue)
    add_do_not_contact(DoNotContactKind.PHONE, task.contact.phone, source="admin", now=NOW)
    db.session.commit()
    with pytest.raises(NotDialable, match="do not contact"):
        _call(task, queue)
    db.session.commit()
    assert db.session.get(CallTask, task.id).status is TaskStatus.CANCELLED


def test_an_erased_contact_is_not_dialled(make_queue):
    queue = make_queue(1)
    task = _claimed(queue)
    task.contact.erased_at = NOW
    db.session.commit()
    with pytest.raises(NotDialable, match="erased"):
        _call(task, queue)


def test_calling_hours_are_checked_again_when_the_caller_presses_call(make_queue):
    queue = make_queue(1)
    task = claim_next_task(queue.caller, now=NOW, lease_seconds=6 * 3600)
    db.session.commit()
    late = NOW + timedelta(hours=5, minutes=30)  # 17:30 in New York
    with pytest.raises(NotDialable, match="outside calling hours"):
        start_call(task, queue.caller, now=late, limits=LIMITS, lease_seconds=LEASE)
    db.session.commit()
    task = db.session.get(CallTask, task.id)
    assert task.status is TaskStatus.READY
    assert task.due_at == NOW + timedelta(days=1) - timedelta(hours=3)  # Thursday 9:00 in New York


def test_the_lifetime_attempt_cap_closes_the_task(make_queue):
    queue = make_queue(1, call_max_attempts=2)
    task = _claimed(queue)
    task.attempts = 2
    with pytest.raises(NotDialable, match="as often as the campaign allows"):
        _call(task, queue)
    assert task.status is TaskStatus.EXHAUSTED


def _earlier_attempts(task, phone, count, *, hours_ago=2):
    for n in range(count):
        db.session.add(
            CallAttempt(
                task_id=task.id,
                campaign_id=task.campaign_id,
                contact_id=task.contact_id,
                phone=phone,
                started_at=NOW - timedelta(hours=hours_ago, minutes=n),
                disposition=Disposition.NO_ANSWER,
            )
        )
    db.session.commit()


def test_a_number_is_called_at_most_n_times_per_rolling_24_hours_across_campaigns(make_queue):
    queue = make_queue(1)
    task = _claimed(queue)
    _earlier_attempts(task, task.contact.phone, 5, hours_ago=20)
    task.attempts = 0
    with pytest.raises(NotDialable, match="5 times in the last 24 hours"):
        _call(task, queue)
    assert task.status is TaskStatus.READY
    assert task.due_at > NOW


@pytest.mark.parametrize(("phone", "refused"), [("+13055550123", True), ("+12125550123", False)])
def test_florida_numbers_are_called_at_most_3_times_per_24_hours(make_queue, phone, refused):
    queue = make_queue(1, phones=[phone], call_max_per_day=10, call_max_attempts=10)
    task = _claimed(queue)
    _earlier_attempts(task, phone, 3, hours_ago=3)
    if refused:
        with pytest.raises(NotDialable, match="FL allows 3"):
            _call(task, queue)
    else:
        assert _call(task, queue).phone == phone


def test_without_twilio_the_attempt_is_recorded_and_the_number_shown(make_queue):
    queue = make_queue(1)
    task = _claimed(queue)
    attempt = _call(task, queue)
    assert attempt.phone == task.contact.phone
    assert attempt.twilio_call_sid is None
    assert task.attempts == 1
    assert _call(task, queue).id == attempt.id  # pressing twice does not start a second attempt


def test_twilio_rings_the_callers_own_phone_then_bridges_to_the_contact(make_queue):
    queue = make_queue(1)
    task = _claimed(queue)
    http = FakeTwilioVoice()
    dialer = TwilioDialer(
        ACCOUNT_SID, AUTH_TOKEN, from_number=TWILIO_FROM, base_url="http://winback.test", http_client=http
    )
    attempt = _call(task, queue)
    db.session.commit()
    ring_caller(attempt, queue.caller, dialer)
    assert attempt.twilio_call_sid == "CA" + "f" * 32
    (request,) = http.requests
    assert request["url"].endswith(f"/Accounts/{ACCOUNT_SID}/Calls.json")
    assert request["data"]["To"] == "+14155550100"  # the caller's phone
    assert request["data"]["From"] == TWILIO_FROM
    assert request["data"]["Url"] == f"http://winback.test/twilio/voice/bridge/{attempt.callback_token}"
    root = _xml(bridge_twiml(attempt, from_number=TWILIO_FROM, base_url="http://winback.test"))
    dial = root.find("Dial")
    assert root.tag == "Response"
    assert dial.get("callerId") == TWILIO_FROM
    assert dial.get("record") is None
    number = dial.find("Number")
    assert number.text == task.contact.phone
    assert number.get("statusCallback") == f"http://winback.test/twilio/voice/status/{attempt.callback_token}"
    assert number.get("statusCallbackEvent") == "initiated ringing answered completed"


def test_recording_needs_the_campaign_setting_and_the_contacts_consent_and_is_announced(make_queue):
    queue = make_queue(1, call_recording=True)
    task = _claimed(queue)
    attempt = _call(task, queue, recording_consent=True)
    root = _xml(bridge_twiml(attempt, from_number=TWILIO_FROM, base_url="http://winback.test"))
    assert root.find("Dial").get("record") == "record-from-answer-dual"
    assert (
        root.find("Dial/Number").get("url")
        == f"http://winback.test/twilio/voice/announce/{attempt.callback_token}"
    )


# ------------------------------------------------------------------------------------------ webhooks


def test_the_bridge_dials_the_tasks_contact_whatever_the_request_says(live_queue, voice_client):
    queue = live_queue(1)
    now = utcnow()  # the webhook reads the real clock
    task = claim_next_task(queue.caller, now=now, lease_seconds=LEASE)
    attempt = start_call(task, queue.caller, now=now, limits=LIMITS, lease_seconds=LEASE)
    db.session.commit()
    params = {"CallSid": "CA1", "To": "+19005550000", "From": "+14155550100"}
    response = voice_client(f"/twilio/voice/bridge/{attempt.callback_token}", params)
    assert response.status_code == 200
    root = _xml(response.get_data())
    assert root.find("Dial/Number").text == task.contact.phone


@pytest.mark.parametrize("kind", ["unsigned", "forged", "tampered"])
def test_unsigned_or_forged_voice_webhooks_are_refused(make_queue, voice_client, kind):
    queue = make_queue(1)
    task = _claimed(queue)
    attempt = _call(task, queue)
    db.session.commit()
    path = f"/twilio/voice/status/{attempt.callback_token}"
    params = {"CallSid": "CA1", "CallStatus": "completed", "CallDuration": "42"}
    if kind == "unsigned":
        response = voice_client(path, params, sign=False)
    elif kind == "forged":
        response = voice_client(path, params, signature="bm90IGEgc2lnbmF0dXJl")
    else:
        good = RequestValidator(AUTH_TOKEN).compute_signature(BASE + path, params)
        response = voice_client(path, {**params, "CallDuration": "4200"}, signature=good)
    assert response.status_code == 403
    assert db.session.get(CallAttempt, attempt.id).duration_seconds is None
    for webhook in ("bridge", "announce"):
        assert (
            voice_client(f"/twilio/voice/{webhook}/{attempt.callback_token}", params, sign=False).status_code
            == 403
        )


def test_a_signed_status_callback_updates_the_attempt(make_queue, voice_client):
    queue = make_queue(1)
    task = _claimed(queue)
    attempt = _call(task, queue)
    db.session.commit()
    path = f"/twilio/voice/status/{attempt.callback_token}"
    assert voice_client(path, {"CallSid": "CA1", "CallStatus": "in-progress"}).status_code == 204
    response = voice_client(path, {"CallSid": "CA1", "CallStatus": "completed", "CallDuration": "42"})
    assert response.status_code == 204
    db.session.expire_all()
    stored = db.session.get(CallAttempt, attempt.id)
    assert stored.twilio_status == "completed"
    assert stored.duration_seconds == 42
    assert stored.answered_at is not None
    assert stored.ended_at is not None
