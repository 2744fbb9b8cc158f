"""Twilio's voice webhooks: the bridge and the browser's TwiML App, the recording notice, statuses,
answering-machine verdicts and recordings. Each one is checked by signature (RequestValidator)."""

from __future__ import annotations

from flask import abort, current_app, request
from sqlalchemy import select

from app.auth.guard import public
from app.db_types import utcnow
from app.errors import DomainError
from app.extensions import csrf, db
from app.messaging.views import _require_twilio_signature
from campaigns.calls.browser import caller_from_identity, connect_browser_call
from campaigns.calls.consent import RecordingPlan
from campaigns.calls.dialing import DialLimits, NotDialable, bridge_refusal, mark_connected
from campaigns.calls.health import FAILED_STATUSES, HealthRules, note_failed_call
from campaigns.calls.models import CallAttempt, CallTask
from campaigns.calls.views import _lease_seconds, bp
from campaigns.calls.voice import (
    DialFailed,
    announcement_twiml,
    app_dialer,
    apply_call_status,
    attempt_recording_plan,
    bridge_twiml,
    empty_twiml,
    hangup_twiml,
)
from campaigns.calls.voicemail import apply_machine_detection, apply_recording, note_contact_leg


def _twiml(xml: str):
    return current_app.response_class(xml, mimetype="application/xml")


def _attempt_for(token: str) -> CallAttempt | None:
    return db.session.scalar(select(CallAttempt).where(CallAttempt.callback_token == token[:32]))


def _signed_attempt(token: str) -> CallAttempt:
    """The attempt a signed Twilio callback is about; a 404 for a token no attempt has."""
    _require_twilio_signature()
    attempt = _attempt_for(token)
    if attempt is None:
        abort(404)
    return attempt


def _dial(attempt: CallAttempt):
    return _twiml(
        bridge_twiml(
            attempt,
            from_number=current_app.config.get("TWILIO_FROM") or "",
            base_url=current_app.config["PUBLIC_BASE_URL"],
        )
    )


@bp.post("/twilio/voice/bridge/<token>")
@public
@csrf.exempt
def twilio_voice_bridge(token: str):
    """The caller answered their phone: bridge to the attempt's number if everything still holds."""
    _require_twilio_signature()
    attempt = _attempt_for(token)
    now = utcnow()
    if attempt is None or bridge_refusal(attempt, now=now) is not None:
        return _twiml(hangup_twiml())
    mark_connected(attempt, "phone", now=now)
    db.session.commit()
    return _dial(attempt)


@bp.post("/twilio/voice/client")
@public
@csrf.exempt
def twilio_voice_client():
    """The TwiML App's voice URL: a browser call. Dials the leased task's number, never a posted one."""
    _require_twilio_signature()
    form = request.form
    caller = caller_from_identity(form.get("From") or form.get("Caller"))
    raw_task = (form.get("task_id") or "").strip()
    sid = (form.get("CallSid") or "").strip()
    task = (
        db.session.get(CallTask, int(raw_task))
        if raw_task.isascii() and raw_task.isdigit() and len(raw_task) < 12
        else None
    )
    if caller is None or task is None or not sid or len(sid) > 64:
        return _twiml(hangup_twiml("This call cannot be placed."))
    try:
        attempt = connect_browser_call(
            task,
            caller,
            sid,
            now=utcnow(),
            limits=DialLimits.from_config(current_app.config),
            lease_seconds=_lease_seconds(),
            recording_consent=form.get("recording_consent") == "1",
        )
    except NotDialable as error:
        db.session.commit()  # the task was closed or put back in the queue
        return _twiml(hangup_twiml(error.message))
    except DomainError as error:
        db.session.rollback()
        return _twiml(hangup_twiml(error.message))
    db.session.commit()
    return _dial(attempt)


@bp.post("/twilio/voice/announce/<token>")
@public
@csrf.exempt
def twilio_voice_announce(token: str):
    """The contact answered a recorded call: the notice, before they are put through."""
    _require_twilio_signature()
    attempt = _attempt_for(token)
    if attempt is None:
        return _twiml(hangup_twiml())
    plan = attempt_recording_plan(attempt)
    if plan is RecordingPlan.FROM_ANSWER:
        attempt.announced_at = attempt.announced_at or utcnow()
        db.session.commit()
    return _twiml(announcement_twiml(attempt, plan=plan, base_url=current_app.config["PUBLIC_BASE_URL"]))


@bp.post("/twilio/voice/announced/<token>")
@public
@csrf.exempt
def twilio_voice_announced(token: str):
    """The notice has played (all-party consent): only now is the call recorded; then the bridge."""
    _require_twilio_signature()
    attempt = _attempt_for(token)
    if attempt is None:
        return _twiml(hangup_twiml())
    first = attempt.announced_at is None
    attempt.announced_at = attempt.announced_at or utcnow()
    db.session.commit()
    dialer = app_dialer()
    if first and attempt.recording_consent and attempt.twilio_call_sid and dialer is not None:
        base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
        try:
            dialer.start_recording(attempt.twilio_call_sid, f"{base}/twilio/voice/recording/{token}")
        except DialFailed as error:  # the call goes on, unrecorded
            current_app.logger.warning("could not start recording: %s", error.message)
    return _twiml(empty_twiml())


@bp.post("/twilio/voice/status/<token>")
@public
@csrf.exempt
def twilio_voice_status(token: str):
    attempt = _signed_attempt(token)
    now = utcnow()
    apply_call_status(attempt, request.form, now=now)
    note_contact_leg(attempt, request.form)
    if request.form.get("CallStatus") in FAILED_STATUSES:
        note_failed_call(attempt.phone, now=now, rules=HealthRules.from_config(current_app.config))
    db.session.commit()
    return "", 204


@bp.post("/twilio/voice/amd/<token>")
@public
@csrf.exempt
def twilio_voice_amd(token: str):
    """Answering-machine detection's verdict (asynchronous): a machine suggests "voicemail"."""
    attempt = _signed_attempt(token)
    apply_machine_detection(attempt, request.form)
    db.session.commit()
    return "", 204


@bp.post("/twilio/voice/recording/<token>")
@public
@csrf.exempt
def twilio_voice_recording(token: str):
    attempt = _signed_attempt(token)
    apply_recording(attempt, request.form)
    db.session.commit()
    return "", 204
