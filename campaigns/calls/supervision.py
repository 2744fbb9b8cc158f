"""The supervisor's number holds and call recordings (played through the app, access-controlled, audited)."""

from __future__ import annotations

import requests
from flask import Response, abort, current_app, flash, redirect, url_for
from flask_login import current_user

from app.audit.service import record_event
from app.db_types import utcnow
from app.extensions import db
from campaigns.calls.health import release_hold
from campaigns.calls.models import CallAttempt, NumberHold
from campaigns.calls.views import admin_only, bp

MEDIA_TIMEOUT_SECONDS = 20


@bp.post("/calls/supervisor/holds/<int:hold_id>/release")
@admin_only
def release_number(hold_id: int):
    hold = db.get_or_404(NumberHold, hold_id)
    release_hold(hold, current_user, now=utcnow())
    db.session.commit()
    flash(f"{hold.phone} may be called again.", "success")
    return redirect(url_for("calls.supervisor"))


def _media_session() -> requests.Session:
    """The app's session for Twilio's media (a test mounts a fake transport on it)."""
    return current_app.extensions.get("twilio_media_session") or requests.Session()


@bp.get("/calls/supervisor/attempts/<int:attempt_id>/recording")
@admin_only
def recording(attempt_id: int):
    """Play a call's recording: fetched from Twilio with the account's credentials; each play audited."""
    attempt = db.get_or_404(CallAttempt, attempt_id)
    config = current_app.config
    if (
        not attempt.recording_url
        or not config.get("TWILIO_ACCOUNT_SID")
        or not config.get("TWILIO_AUTH_TOKEN")
    ):
        abort(404)
    record_event(
        "call.recording_played",
        "call_attempt",
        attempt.id,
        actor=current_user,
        details={"recording": attempt.recording_sid},
        now=utcnow(),
    )
    db.session.commit()  # the play is on record even if Twilio then fails
    try:
        media = _media_session().get(
            f"{attempt.recording_url}.mp3",
            auth=(config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"]),
            timeout=MEDIA_TIMEOUT_SECONDS,
        )
    except requests.RequestException:
        abort(502)
    if media.status_code != 200:
        abort(502)
    response = Response(media.content, mimetype="audio/mpeg")
    response.headers["Cache-Control"] = "private, no-store"
    return response
