"""Browser calling through the Twilio Voice JavaScript SDK.

The server signs a short-lived Access Token (Voice grant, outgoing calls through the TwiML App only) for
a caller who holds a task's lease. When the browser connects, Twilio asks the TwiML App's voice URL
what to do, with the caller's identity and the task id: the number dialled is the task's contact's,
read from the database after the same checks as pressing Call. Nothing the browser sends is dialled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.auth.models import User
from app.errors import DomainError
from app.extensions import db
from campaigns.calls.dialing import DialLimits, start_call
from campaigns.calls.models import CallAttempt, CallTask, TaskStatus
from campaigns.calls.queue import LeaseLost
from campaigns.calls.voice import voice_configured

IDENTITY_PREFIX = "caller-"
BROWSER_SETTINGS = ("TWILIO_API_KEY_SID", "TWILIO_API_KEY_SECRET", "TWILIO_TWIML_APP_SID")


class NotYourCall(DomainError):
    code = "not_your_call"
    status = 403


def browser_configured(config: Mapping[str, Any]) -> bool:
    return voice_configured(config) and all(config.get(name) for name in BROWSER_SETTINGS)


@dataclass(frozen=True)
class CallMode:
    """How this caller's calls are placed, and why (the page says both)."""

    mode: str  # "browser", "phone" or "hand"
    reason: str


def call_mode(config: Mapping[str, Any], caller: User) -> CallMode:
    if browser_configured(config):
        return CallMode("browser", "Calls go through this browser (microphone and speakers).")
    if voice_configured(config):
        if caller.phone:
            return CallMode("phone", "Browser calling is not set up, so Twilio rings your phone.")
        return CallMode("hand", "Browser calling is not set up and your profile has no phone: dial by hand.")
    return CallMode("hand", "Twilio is not set up: dial by hand.")


def identity_for(caller: User) -> str:
    return f"{IDENTITY_PREFIX}{caller.id}"


def caller_from_identity(raw: str | None) -> User | None:
    """The user a Twilio Client identity ("client:caller-12") names, or None."""
    value = (raw or "").removeprefix("client:")
    if not value.startswith(IDENTITY_PREFIX):
        return None
    digits = value.removeprefix(IDENTITY_PREFIX)
    if not (digits.isascii() and digits.isdigit() and len(digits) < 12):
        return None
    user = db.session.get(User, int(digits))
    return user if user is not None and user.active else None


def require_lease(task: CallTask, caller: User, *, now: datetime) -> None:
    """Raise unless the caller holds this task's lease now."""
    if task.status is not TaskStatus.LEASED or task.leased_by_id != caller.id:
        raise NotYourCall("Browser calling is only for the call you hold: press Next call first.")
    if task.lease_expires_at is None or task.lease_expires_at <= now:
        raise LeaseLost("Your hold on this call expired: press Next call to get the next one.")


def voice_token(config: Mapping[str, Any], task: CallTask, caller: User, *, now: datetime) -> dict[str, Any]:
    """A short-lived Access Token letting this caller's browser place calls through the TwiML App."""
    from twilio.jwt.access_token import AccessToken
    from twilio.jwt.access_token.grants import VoiceGrant

    require_lease(task, caller, now=now)
    ttl = max(60, min(int(config.get("TWILIO_VOICE_TOKEN_TTL") or 600), 3600))
    token = AccessToken(
        config["TWILIO_ACCOUNT_SID"],
        config["TWILIO_API_KEY_SID"],
        config["TWILIO_API_KEY_SECRET"],
        identity=identity_for(caller),
        ttl=ttl,
        nbf=int(now.timestamp()) - 5,
    )
    token.add_grant(VoiceGrant(outgoing_application_sid=config["TWILIO_TWIML_APP_SID"], incoming_allow=False))
    return {"token": token.to_jwt(), "identity": identity_for(caller), "expires_in": ttl}


def connect_browser_call(
    task: CallTask,
    caller: User,
    call_sid: str,
    *,
    now: datetime,
    limits: DialLimits,
    lease_seconds: int,
    recording_consent: bool,
) -> CallAttempt:
    """The browser's call reached Twilio: check everything as pressing Call does, and keep the attempt."""
    require_lease(task, caller, now=now)
    attempt = start_call(
        task, caller, now=now, limits=limits, lease_seconds=lease_seconds, recording_consent=recording_consent
    )
    if attempt.twilio_call_sid not in (None, call_sid):
        raise LeaseLost("This call is already connected elsewhere.")
    attempt.twilio_call_sid = call_sid
    attempt.mode = "browser"
    attempt.connected_at = attempt.connected_at or now
    db.session.flush()
    return attempt
