"""The browser softphone's routes: its Access Token, the live call's state, and the voicemail drop."""

from __future__ import annotations

from flask import current_app, flash, jsonify, redirect, request, url_for
from flask_login import current_user

from app.db_types import utcnow
from app.errors import DomainError
from app.extensions import db
from app.security import CONTENT_SECURITY_POLICY
from campaigns.calls.browser import browser_configured, call_mode, voice_token
from campaigns.calls.dialing import DialLimits, NotDialable, current_attempt
from campaigns.calls.health import HealthRules
from campaigns.calls.models import DISPOSITION_LABELS, CallTask, TaskStatus
from campaigns.calls.views import _lease_seconds, _own_task, bp, callers_and_admins
from campaigns.calls.voice import DialFailed, app_dialer, voicemail_twiml
from campaigns.calls.voicemail import drop_voicemail, has_voicemail

# The Voice SDK talks to Twilio over a WebSocket (signalling) and posts call-quality events.
SOFTPHONE_CONNECT = "connect-src 'self' wss://*.twilio.com https://eventgw.twilio.com"


@bp.app_template_global("softphone")
def softphone(task: CallTask) -> dict:
    """What the softphone partial needs: the mode and why, whether this caller holds the task, the URLs."""
    # The same rule as held_task(), read from the task already loaded (no second query per page).
    expires = task.lease_expires_at
    mine = (
        task.status is TaskStatus.LEASED
        and task.leased_by_id == current_user.id
        and expires is not None
        and expires > utcnow()
    )
    mode = call_mode(current_app.config, current_user)
    return {
        "mode": mode.mode,
        "reason": mode.reason,
        "mine": mine,
        "voicemail": has_voicemail(task.campaign),
        "token_url": url_for("calls.voice_token_for", task_id=task.id),
        "state_url": url_for("calls.call_state", task_id=task.id),
        "drop_url": url_for("calls.voicemail_drop", task_id=task.id),
        "sdk_url": url_for("static", filename="vendor/twilio-voice/twilio.min.js"),
        "silence_url": url_for("static", filename="sounds/silence.wav"),
    }


@bp.after_request
def allow_twilio_signalling(response):
    """The task page may open the SDK's connection to Twilio when browser calling is set up."""
    if request.endpoint == "calls.task" and browser_configured(current_app.config):
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
            "connect-src 'self'", SOFTPHONE_CONNECT
        )
    return response


def _json_error(error: DomainError):
    return jsonify(error.to_json()), error.status


@bp.post("/calls/tasks/<int:task_id>/voice-token")
@callers_and_admins
def voice_token_for(task_id: int):
    """A short-lived Access Token for the browser softphone; only for the task the caller holds."""
    task = _own_task(task_id)
    if not browser_configured(current_app.config):
        return jsonify(
            {
                "error": {
                    "code": "not_configured",
                    "message": call_mode(current_app.config, current_user).reason,
                }
            }
        ), 409
    try:
        token = voice_token(current_app.config, task, current_user, now=utcnow())
    except DomainError as error:
        return _json_error(error)
    return jsonify(token)


@bp.get("/calls/tasks/<int:task_id>/call-state")
@callers_and_admins
def call_state(task_id: int):
    """The live call as Twilio reported it: status, answering-machine verdict, suggested disposition."""
    task = _own_task(task_id)
    attempt = current_attempt(task)
    if attempt is None:
        return jsonify({"call": None})
    suggested = attempt.suggested_disposition
    return jsonify(
        {
            "call": {
                "status": attempt.twilio_status,
                "answered_by": attempt.answered_by,
                "suggested": suggested.value if suggested else None,
                "suggested_label": DISPOSITION_LABELS[suggested] if suggested else None,
                "can_drop_voicemail": bool(attempt.contact_call_sid) and has_voicemail(task.campaign),
            }
        }
    )


@bp.post("/calls/tasks/<int:task_id>/voicemail-drop")
@callers_and_admins
def voicemail_drop(task_id: int):
    """Leave the campaign's voicemail on the live call and move on to the next call."""
    task = _own_task(task_id)
    try:
        attempt = drop_voicemail(
            task,
            current_user,
            now=utcnow(),
            lease_seconds=_lease_seconds(),
            limits=DialLimits.from_config(current_app.config),
            health=HealthRules.from_config(current_app.config),
            notes=request.form.get("notes"),
        )
    except NotDialable as error:
        db.session.commit()
        flash(error.message, "error")
        return redirect(url_for("calls.queue"))
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("calls.task", task_id=task_id))
    leg = attempt.contact_call_sid
    campaign = task.campaign
    twiml = voicemail_twiml(campaign.voicemail_audio_url, campaign.voicemail_text)
    name = task.contact.full_name
    db.session.commit()  # recorded before Twilio is asked: the caller moves on whatever Twilio says
    dialer = app_dialer()
    try:
        if dialer is None or leg is None:
            raise DialFailed("Twilio is not set up.")
        dialer.play(leg, twiml)  # no transaction is open while Twilio answers
    except DialFailed as error:
        flash(f"{name}: voicemail recorded, but {error.message}", "error")
    else:
        flash(f"{name}: the voicemail is being left.", "success")
    if request.form.get("then") == "stop":
        return redirect(url_for("calls.queue"))
    return redirect(url_for("calls.next_call"), code=307)
