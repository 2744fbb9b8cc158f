"""The bridge re-checks everything before it dials; a disposition or an opt-out hangs up a live call."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.db_types import utcnow
from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.models import DoNotContactKind
from app.messaging.service import add_do_not_contact, opt_out_contact
from campaigns.calls.dialing import DialLimits, ring_caller, start_call, withdraw_attempt
from campaigns.calls.dispositions import record_disposition
from campaigns.calls.models import CallAttempt, Disposition
from campaigns.calls.queue import claim_next_task
from campaigns.calls.voice import app_dialer
from campaigns.models import CampaignStatus
from tests.calls.conftest import LEASE
from tests.calls.twilio_fake import CALL_SID

LIMITS = DialLimits()


def _live_attempt(queue, *, now=None):
    """The caller pressed Call just now (the webhooks read the real clock)."""
    now = now or utcnow()
    task = claim_next_task(queue.caller, now=now, lease_seconds=LEASE)
    attempt = start_call(task, queue.caller, now=now, limits=LIMITS, lease_seconds=LEASE)
    db.session.commit()
    return task, attempt


def _bridge(voice_client, attempt_or_token) -> ET.Element:
    token = getattr(attempt_or_token, "callback_token", attempt_or_token)
    response = voice_client(f"/twilio/voice/bridge/{token}", {"CallSid": "CA1", "From": "+14155550100"})
    assert response.status_code == 200
    return ET.fromstring(response.get_data())  # noqa: S314 (TwiML this app wrote)


def _dials(root: ET.Element) -> bool:
    return root.find("Dial/Number") is not None


def _do_not_call(task, attempt, queue):
    record_disposition(task, queue.caller, Disposition.DO_NOT_CALL, now=utcnow(), lease_seconds=LEASE)


def _listed(task, attempt, queue):
    add_do_not_contact(DoNotContactKind.PHONE, task.contact.phone, source="admin", now=utcnow())


def _no_answer(task, attempt, queue):
    record_disposition(task, queue.caller, Disposition.NO_ANSWER, now=utcnow(), lease_seconds=LEASE)


def _lease_lapsed(task, attempt, queue):
    task.lease_expires_at = utcnow() - timedelta(seconds=1)


def _paused(task, attempt, queue):
    queue.campaign.status = CampaignStatus.PAUSED


def _night(task, attempt, queue):
    # A zone where it is outside 08:00-21:00 now.
    for offset in range(-12, 13):
        name = f"Etc/GMT{'+' if offset <= 0 else '-'}{abs(offset)}"
        if not 7 <= utcnow().astimezone(ZoneInfo(name)).hour < 21:
            task.contact.timezone = name
            return
    raise AssertionError("no closed zone")


def _sms_stop(task, attempt, queue):
    opt_out_contact(task.contact, Channel.SMS, source="sms reply STOP", now=utcnow())


@pytest.mark.parametrize(
    "spoil", [_do_not_call, _listed, _no_answer, _lease_lapsed, _paused, _night, _sms_stop]
)
def test_the_bridge_hangs_up_instead_of_dialling_when_anything_changed_since_call_was_pressed(
    live_queue, voice_client, spoil
):
    queue = live_queue(1)
    task, attempt = _live_attempt(queue)
    assert _dials(_bridge(voice_client, attempt))  # everything holds: it dials
    spoil(task, attempt, queue)
    db.session.commit()
    root = _bridge(voice_client, attempt)
    assert not _dials(root)
    assert root.find("Hangup") is not None


def test_a_withdrawn_attempts_callback_never_reaches_the_next_attempt(live_queue, voice_client):
    """Twilio placed the call, but the dial failed for us: the late bridge must not dial the next contact."""
    queue = live_queue(2)
    task, first = _live_attempt(queue)
    old_token = first.callback_token
    withdraw_attempt(first)
    db.session.commit()
    second = start_call(task, queue.caller, now=utcnow(), limits=LIMITS, lease_seconds=LEASE)
    db.session.commit()
    assert second.callback_token != old_token
    assert len(second.callback_token) >= 22  # 128 random bits
    assert not _dials(_bridge(voice_client, old_token))
    assert _dials(_bridge(voice_client, second))


# ------------------------------------------------------------------------------ hanging up in flight


def _ringing(queue, twilio_voice):
    task, attempt = _live_attempt(queue)
    ring_caller(attempt, queue.caller, app_dialer())
    db.session.commit()
    assert attempt.twilio_call_sid == CALL_SID
    twilio_voice.requests.clear()
    return task, attempt


def test_an_sms_stop_hangs_up_the_call_in_flight_through_twilio(live_queue, twilio_voice, voice_client):
    queue = live_queue(1)
    task, _ = _ringing(queue, twilio_voice)
    params = {"MessageSid": "SM" + "1" * 32, "From": task.contact.phone, "To": "+14155550000", "Body": "STOP"}
    assert voice_client("/twilio/sms/inbound", params).status_code == 200
    assert twilio_voice.hang_ups() == [CALL_SID]


def test_an_opt_out_reviewed_from_an_email_reply_hangs_up_the_call_in_flight(live_queue, twilio_voice):
    queue = live_queue(1)
    task, _ = _ringing(queue, twilio_voice)
    opt_out_contact(task.contact, None, source="reply reviewed by admin@example.com", now=utcnow())
    assert twilio_voice.hang_ups() == []  # not before the opt-out is committed
    db.session.commit()
    assert twilio_voice.hang_ups() == [CALL_SID]


def test_a_disposition_hangs_up_the_call_in_flight_once_committed(live_queue, twilio_voice):
    queue = live_queue(1)
    task, _ = _ringing(queue, twilio_voice)
    record_disposition(task, queue.caller, Disposition.NOT_INTERESTED, now=utcnow(), lease_seconds=LEASE)
    db.session.commit()
    assert twilio_voice.hang_ups() == [CALL_SID]


def test_a_rolled_back_opt_out_hangs_up_nothing(live_queue, twilio_voice):
    queue = live_queue(1)
    task, _ = _ringing(queue, twilio_voice)
    opt_out_contact(task.contact, Channel.CALL, source="test", now=utcnow())
    db.session.rollback()
    db.session.commit()
    assert twilio_voice.hang_ups() == []


def test_a_call_twilio_already_ended_is_not_hung_up_again(live_queue, twilio_voice, voice_client):
    queue = live_queue(1)
    task, attempt = _ringing(queue, twilio_voice)
    path = f"/twilio/voice/status/{attempt.callback_token}"
    assert voice_client(path, {"CallSid": CALL_SID, "CallStatus": "completed"}).status_code == 204
    record_disposition(task, queue.caller, Disposition.NOT_INTERESTED, now=utcnow(), lease_seconds=LEASE)
    db.session.commit()
    assert twilio_voice.hang_ups() == []
    assert db.session.scalar(select(CallAttempt.disposition)) is Disposition.NOT_INTERESTED


def test_a_savepoint_released_before_the_commit_does_not_hang_up_early(live_queue, twilio_voice):
    queue = live_queue(1)
    task, _ = _ringing(queue, twilio_voice)
    opt_out_contact(task.contact, Channel.CALL, source="test", now=utcnow())
    with db.session.begin_nested():
        pass
    assert twilio_voice.hang_ups() == []
    db.session.commit()
    assert twilio_voice.hang_ups() == [CALL_SID]


# ------------------------------------------------------------------------------------ status callbacks


def _status(voice_client, attempt, status, **fields):
    params = {"CallSid": CALL_SID, "CallStatus": status, **fields}
    return voice_client(f"/twilio/voice/status/{attempt.callback_token}", params)


@pytest.mark.parametrize("late", ["ringing", "initiated", "in-progress", "queued", "canceled"])
def test_a_late_status_never_overwrites_completed(live_queue, voice_client, late):
    queue = live_queue(1)
    _, attempt = _live_attempt(queue)
    for status in ("initiated", "ringing", "in-progress"):
        assert _status(voice_client, attempt, status).status_code == 204
    assert _status(voice_client, attempt, "completed", CallDuration="42").status_code == 204
    assert _status(voice_client, attempt, late, CallDuration="7").status_code == 204
    db.session.expire_all()
    stored = db.session.get(CallAttempt, attempt.id)
    assert (stored.twilio_status, stored.duration_seconds) == ("completed", 42)


def test_ringing_after_in_progress_is_ignored(live_queue, voice_client):
    queue = live_queue(1)
    _, attempt = _live_attempt(queue)
    _status(voice_client, attempt, "in-progress")
    _status(voice_client, attempt, "ringing")
    db.session.expire_all()
    assert db.session.get(CallAttempt, attempt.id).twilio_status == "in-progress"


@pytest.mark.parametrize("duration", ["99999999999", "-5", "4.5", "²"])
def test_a_signed_status_with_an_impossible_duration_is_refused_not_a_500(live_queue, voice_client, duration):
    queue = live_queue(1)
    _, attempt = _live_attempt(queue)
    response = _status(voice_client, attempt, "completed", CallDuration=duration)
    assert response.status_code == 422
    db.session.expire_all()
    stored = db.session.get(CallAttempt, attempt.id)
    assert (stored.twilio_status, stored.duration_seconds, stored.ended_at) == (None, None, None)
