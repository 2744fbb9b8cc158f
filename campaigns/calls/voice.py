"""Click-to-call through the real twilio library: ring the caller, bridge, follow statuses, hang up.

Twilio is always called outside the database transaction (the attempt is committed first) and with a
timeout, so a slow or unreachable Twilio never holds a lock nor reaches the worker's timeout. Hang-ups
asked for inside a transaction (a disposition, an opt-out by SMS or email) are sent once it commits.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import requests
from flask import current_app, has_app_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.errors import Conflict, ValidationError
from app.extensions import db
from campaigns.calls.models import CallAttempt

STATUS_EVENTS = "initiated ringing answered completed"
RECORDING_NOTICE = "This call may be recorded for quality and training purposes."
DEFAULT_TIMEOUT_SECONDS = 10.0
# Twilio's call statuses in the order a call goes through them. Callbacks can arrive out of order: a
# status never moves the attempt back (a late "ringing" after "completed" is ignored).
FINAL_STATUSES = ("completed", "busy", "no-answer", "failed", "canceled")
_STATUS_RANK = {"queued": 0, "initiated": 1, "ringing": 2, "in-progress": 3, "answered": 3}
_STATUS_RANK.update(dict.fromkeys(FINAL_STATUSES, 4))
MAX_CALL_SECONDS = 24 * 3600  # Twilio ends every call after 4 hours; anything longer is not Twilio
_PENDING_HANGUPS = "calls.pending_hangups"

log = logging.getLogger(__name__)


class DialFailed(Conflict):
    code = "dial_failed"


# Requests' own errors (ConnectionError, ProxyError, Timeout...) as well as Twilio's refusals.
def _network_errors() -> tuple[type[Exception], ...]:
    from twilio.base.exceptions import TwilioException

    return (TwilioException, requests.RequestException)


class TwilioDialer:
    """Click-to-call through the real twilio library; pass http_client to replace its transport (tests)."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        from_number: str,
        base_url: str,
        http_client: Any = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        # The library's own client waits for ever by default.
        self.client = Client(
            account_sid, auth_token, http_client=http_client or TwilioHttpClient(timeout=timeout)
        )
        self.from_number = from_number
        self.base_url = base_url.rstrip("/")

    def place(self, attempt: CallAttempt, caller_phone: str) -> str:
        """Ring the caller's own phone; when they answer, Twilio fetches the bridge TwiML. Returns the SID."""
        try:
            call = self.client.calls.create(
                to=caller_phone,
                from_=self.from_number,
                url=f"{self.base_url}/twilio/voice/bridge/{attempt.callback_token}",
                method="POST",
            )
        except _network_errors() as error:
            raise DialFailed(
                f"Twilio could not place the call ({_short(error)}); nothing was dialled."
            ) from None
        return call.sid

    def hang_up(self, call_sid: str) -> None:
        """End the call whatever its state (ringing or bridged)."""
        self.client.calls(call_sid).update(status="completed")


def _short(error: Exception) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0][:200] or type(error).__name__


def voice_configured(config: Mapping[str, Any]) -> bool:
    return bool(
        config.get("TWILIO_ACCOUNT_SID") and config.get("TWILIO_AUTH_TOKEN") and config.get("TWILIO_FROM")
    )


def dialer_from_config(config: Mapping[str, Any], *, http_client: Any = None) -> TwilioDialer | None:
    if not voice_configured(config):
        return None
    return TwilioDialer(
        config["TWILIO_ACCOUNT_SID"],
        config["TWILIO_AUTH_TOKEN"],
        from_number=config["TWILIO_FROM"],
        base_url=config["PUBLIC_BASE_URL"],
        http_client=http_client,
        timeout=float(config.get("TWILIO_VOICE_TIMEOUT_SECONDS") or DEFAULT_TIMEOUT_SECONDS),
    )


def app_dialer() -> TwilioDialer | None:
    """The dialer of the running app (its test transport when one is set), or None without Twilio."""
    return dialer_from_config(
        current_app.config, http_client=current_app.extensions.get("twilio_http_client")
    )


# -------------------------------------------------------------------------------------------- TwiML


def bridge_twiml(attempt: CallAttempt, *, from_number: str, base_url: str) -> str:
    """What Twilio plays once the caller answered: dial the attempt's number (from the database)."""
    from twilio.twiml.voice_response import Dial, VoiceResponse

    base = base_url.rstrip("/")
    response = VoiceResponse()
    record = attempt.recording_consent
    dial = Dial(caller_id=from_number, record="record-from-answer-dual" if record else None)
    dial.number(
        attempt.phone,
        status_callback=f"{base}/twilio/voice/status/{attempt.callback_token}",
        status_callback_event=STATUS_EVENTS,
        status_callback_method="POST",
        url=f"{base}/twilio/voice/announce/{attempt.callback_token}" if record else None,
    )
    response.append(dial)
    return str(response)


def hangup_twiml() -> str:
    from twilio.twiml.voice_response import VoiceResponse

    response = VoiceResponse()
    response.hangup()
    return str(response)


def announcement_twiml() -> str:
    """Played to the contact before the bridge when the call is recorded (consent given)."""
    from twilio.twiml.voice_response import VoiceResponse

    response = VoiceResponse()
    response.say(RECORDING_NOTICE)
    return str(response)


# ----------------------------------------------------------------------------------------- statuses


def _duration(form: Mapping[str, str]) -> int | None:
    raw = (form.get("CallDuration") or form.get("DialCallDuration") or "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_CALL_SECONDS:
        raise ValidationError(
            "CallDuration must be a number of seconds a call can last.", field="CallDuration"
        )
    return int(raw)


def apply_call_status(attempt: CallAttempt, form: Mapping[str, str], *, now: datetime) -> None:
    """A Twilio status callback: keep the status, answer and end times, and the duration.

    A status earlier in a call's life than the one stored (callbacks arrive out of order) is ignored.
    """
    status = (form.get("CallStatus") or "").strip()[:32]
    duration = _duration(form)  # checked first: a bad value changes nothing
    if not status:
        return
    stored = _STATUS_RANK.get(attempt.twilio_status or "", -1)
    rank = _STATUS_RANK.get(status)
    if rank is None or rank < stored or (rank == stored and status in FINAL_STATUSES):
        return
    attempt.twilio_status = status
    if status == "in-progress" and attempt.answered_at is None:
        attempt.answered_at = now
    if status in FINAL_STATUSES:
        attempt.ended_at = attempt.ended_at or now
        if duration is not None:
            attempt.duration_seconds = duration


# ------------------------------------------------------------------------------------------ hang-ups


def hang_up_after_commit(attempts: list[CallAttempt]) -> None:
    """Hang up these attempts' Twilio calls still in progress, once the transaction commits."""
    sids = {
        attempt.twilio_call_sid
        for attempt in attempts
        if attempt.twilio_call_sid and attempt.twilio_status not in FINAL_STATUSES
    }
    if sids:
        db.session.info.setdefault(_PENDING_HANGUPS, set()).update(sids)


def hang_up_contact_calls(contact_id: int) -> None:
    """The contact opted out or was marked do not call: end any call to them still ringing or bridged."""
    hang_up_after_commit(
        list(
            db.session.scalars(
                select(CallAttempt).where(
                    CallAttempt.contact_id == contact_id,
                    CallAttempt.twilio_call_sid.is_not(None),
                    CallAttempt.ended_at.is_(None),
                )
            )
        )
    )


def _send_pending_hangups(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released: the hang-ups wait for the real commit
    sids = session.info.pop(_PENDING_HANGUPS, None)
    if not sids or not has_app_context():
        return
    dialer = app_dialer()
    if dialer is None:
        return
    for sid in sorted(sids):
        try:
            dialer.hang_up(sid)
        except _network_errors() as error:  # the bridge re-checks anyway: it will not dial
            log.warning("could not hang up call %s: %s", sid, _short(error))


def _forget_pending_hangups(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(_PENDING_HANGUPS, None)


def listen_for_commits() -> None:
    """Send the hang-ups a transaction asked for after it commits; forget them if it rolls back."""
    if not event.contains(db.session, "after_commit", _send_pending_hangups):
        event.listen(db.session, "after_commit", _send_pending_hangups)
        event.listen(db.session, "after_rollback", _forget_pending_hangups)
