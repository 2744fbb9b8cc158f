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
from campaigns.calls.consent import RecordingPlan, recording_plan
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

    def play(self, call_sid: str, twiml: str) -> None:
        """Take a call leg out of its bridge and run this TwiML on it (the voicemail drop)."""
        try:
            self.client.calls(call_sid).update(twiml=twiml)
        except _network_errors() as error:
            raise DialFailed(f"Twilio could not leave the voicemail ({_short(error)}).") from None

    def start_recording(self, call_sid: str, callback_url: str) -> None:
        """Record both sides of a bridged call from now on."""
        try:
            self.client.calls(call_sid).recordings.create(
                recording_channels="dual",
                recording_status_callback=callback_url,
                recording_status_callback_event=["completed"],
            )
        except _network_errors() as error:
            raise DialFailed(f"Twilio could not start the recording ({_short(error)}).") from None


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


def dial_twiml(attempt: CallAttempt, *, from_number: str, base_url: str, plan: RecordingPlan) -> str:
    """Dial the attempt's number (from the database), with answering-machine detection.

    A recorded call plays the notice to the contact first (the <Number>'s url). In a one-party state
    the recording runs from the answer; otherwise it is started once the notice has played.
    """
    from twilio.twiml.voice_response import Dial, VoiceResponse

    base = f"{base_url.rstrip('/')}/twilio/voice"
    token = attempt.callback_token
    recording = {}
    if plan is RecordingPlan.FROM_ANSWER:
        recording = {
            "record": "record-from-answer-dual",
            "recording_status_callback": f"{base}/recording/{token}",
            "recording_status_callback_event": "completed",
        }
    response = VoiceResponse()
    dial = Dial(caller_id=from_number, **recording)
    dial.number(
        attempt.phone,
        status_callback=f"{base}/status/{token}",
        status_callback_event=STATUS_EVENTS,
        status_callback_method="POST",
        url=f"{base}/announce/{token}" if plan is not RecordingPlan.NONE else None,
        machine_detection="DetectMessageEnd",
        amd_status_callback=f"{base}/amd/{token}",
        amd_status_callback_method="POST",
    )
    response.append(dial)
    return str(response)


def bridge_twiml(attempt: CallAttempt, *, from_number: str, base_url: str) -> str:
    """The dial for an attempt, recorded as its consent and the contact's state allow."""
    return dial_twiml(
        attempt, from_number=from_number, base_url=base_url, plan=attempt_recording_plan(attempt)
    )


def attempt_recording_plan(attempt: CallAttempt) -> RecordingPlan:
    return recording_plan(attempt.task.contact, attempt.phone, recorded=attempt.recording_consent)


def hangup_twiml(message: str | None = None) -> str:
    from twilio.twiml.voice_response import VoiceResponse

    response = VoiceResponse()
    if message:
        response.say(message)
    response.hangup()
    return str(response)


def announcement_twiml(attempt: CallAttempt, *, plan: RecordingPlan, base_url: str) -> str:
    """Played to the contact before the bridge on a recorded call.

    Where every party must consent the notice sits in a <Gather> whose action Twilio requests once it
    has played (actionOnEmptyResult): that request starts the recording, never before.
    """
    from twilio.twiml.voice_response import VoiceResponse

    response = VoiceResponse()
    if plan is RecordingPlan.AFTER_NOTICE:
        action = f"{base_url.rstrip('/')}/twilio/voice/announced/{attempt.callback_token}"
        gather = response.gather(action=action, num_digits=1, timeout=1, action_on_empty_result=True)
        gather.say(RECORDING_NOTICE)
    else:
        response.say(RECORDING_NOTICE)
    return str(response)


def empty_twiml() -> str:
    from twilio.twiml.voice_response import VoiceResponse

    return str(VoiceResponse())


def voicemail_twiml(message_url: str | None, message_text: str | None) -> str:
    """The campaign's voicemail: its recording played, or its text spoken; then the call ends."""
    from twilio.twiml.voice_response import VoiceResponse

    response = VoiceResponse()
    if message_url:
        response.play(message_url)
    else:
        response.say(message_text or "")
    response.hangup()
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
