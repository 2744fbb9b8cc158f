"""Pressing "Call": everything checked again, then click-to-call through Twilio (or by hand).

The number dialled is always the claimed task's contact number, read from the database; nothing the
browser sends chooses it. Twilio first rings the caller's own phone, then bridges to the contact with
TwiML built by `VoiceResponse`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from app.auth.models import User
from app.errors import Conflict
from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.suppression import contact_suppression_reason
from campaigns.calls.hours import (
    campaign_window,
    contact_zones,
    next_opening,
    state_rule_for_phone,
    window_holds,
    zone_info,
)
from campaigns.calls.models import CallAttempt, CallTask, TaskStatus
from campaigns.calls.queue import cancel_contact_tasks, release_task, touch_lease
from campaigns.models import EnrollmentStatus

DEFAULT_MAX_PER_NUMBER_24H = 5
STATUS_EVENTS = "initiated ringing answered completed"
RECORDING_NOTICE = "This call may be recorded for quality and training purposes."


class NotDialable(Conflict):
    """The contact may not be called now; the task was closed or put back in the queue, as `outcome` says."""

    code = "not_dialable"

    def __init__(self, message: str, *, outcome: str) -> None:
        super().__init__(message)
        self.outcome = outcome  # "closed", "later" or "stuck"


@dataclass(frozen=True)
class DialLimits:
    max_per_number_24h: int = DEFAULT_MAX_PER_NUMBER_24H

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DialLimits:
        return cls(int(config.get("CALLS_MAX_PER_NUMBER_24H") or DEFAULT_MAX_PER_NUMBER_24H))


def _attempts_since(condition, since: datetime) -> list[datetime]:
    return list(
        db.session.scalars(
            select(CallAttempt.started_at)
            .where(condition, CallAttempt.started_at > since)
            .order_by(CallAttempt.started_at)
        )
    )


def _local_midnight(zones: list[str], now: datetime) -> datetime:
    """The earliest start of "today" across the contact's zones, in UTC."""
    starts = []
    for zone in zones:
        local = now.astimezone(zone_info(zone))
        starts.append(local.replace(hour=0, minute=0, second=0, microsecond=0))
    return min(starts) if starts else now - timedelta(hours=24)


def check_dialable(task: CallTask, *, now: datetime, limits: DialLimits) -> None:
    """Raise NotDialable (having closed or rescheduled the task) unless the contact may be called now."""
    contact = task.contact
    campaign = task.campaign
    if task.enrollment.status is not EnrollmentStatus.ACTIVE:
        _close(task, TaskStatus.CANCELLED, f"enrollment {task.enrollment.status.value}", now=now)
        raise NotDialable(
            "This contact's enrollment has ended; the call was taken off the queue.", outcome="closed"
        )
    reason = contact_suppression_reason(contact, Channel.CALL)
    if reason is not None:
        cancel_contact_tasks(contact.id, reason=f"suppressed: {reason.value}", now=now)
        db.session.expire(task)
        raise NotDialable(
            f"This contact may not be called ({reason.value.replace('_', ' ')}); the call was cancelled.",
            outcome="closed",
        )
    zones = contact_zones(contact)
    if not zones:
        release_task(task)
        task.zone_set_id = None
        raise NotDialable(
            "This contact's time zone is unknown: set it on the contact before calling.", outcome="stuck"
        )
    rule = state_rule_for_phone(contact.phone)
    window = campaign_window(campaign).narrowed(rule)
    if not window_holds(zones, window, now):
        _later(task, next_opening(zones, window, now), now=now)
        raise NotDialable(
            "It is outside calling hours for this contact; the call went back to the queue.", outcome="later"
        )
    if task.attempts >= campaign.call_max_attempts:
        _close(task, TaskStatus.EXHAUSTED, "attempts cap reached", now=now)
        raise NotDialable("This contact was tried as often as the campaign allows.", outcome="closed")
    today = _attempts_since(CallAttempt.task_id == task.id, _local_midnight(zones, now))
    if len(today) >= campaign.call_max_per_day:
        tomorrow = _local_midnight(zones, now + timedelta(days=1))
        _later(task, next_opening(zones, window, tomorrow), now=now)
        raise NotDialable(
            "This contact was called as often as allowed today; try again tomorrow.", outcome="later"
        )
    cap = limits.max_per_number_24h if rule is None else min(limits.max_per_number_24h, rule.max_per_24h)
    recent = _attempts_since(CallAttempt.phone == contact.phone, now - timedelta(hours=24))
    if len(recent) >= cap:
        free_at = recent[len(recent) - cap] + timedelta(hours=24)
        _later(task, next_opening(zones, window, free_at) or free_at, now=now)
        where = f" ({rule.state} allows {rule.max_per_24h})" if rule else ""
        raise NotDialable(
            f"This number was called {len(recent)} times in the last 24 hours{where}; "
            "it went back to the queue.",
            outcome="later",
        )


def _close(task: CallTask, status: TaskStatus, reason: str, *, now: datetime) -> None:
    release_task(task)
    task.status = status
    task.closed_reason = reason[:120]
    task.closed_at = now


def _later(task: CallTask, due: datetime | None, *, now: datetime) -> None:
    release_task(task)
    task.due_at = max(due or now + timedelta(hours=1), now)


# ------------------------------------------------------------------------------------------- Twilio


def voice_configured(config: Mapping[str, Any]) -> bool:
    return bool(
        config.get("TWILIO_ACCOUNT_SID") and config.get("TWILIO_AUTH_TOKEN") and config.get("TWILIO_FROM")
    )


class TwilioDialer:
    """Click-to-call through the real twilio library; pass http_client to replace its transport (tests)."""

    def __init__(
        self, account_sid: str, auth_token: str, *, from_number: str, base_url: str, http_client: Any = None
    ) -> None:
        from twilio.rest import Client

        self.client = Client(account_sid, auth_token, http_client=http_client)
        self.from_number = from_number
        self.base_url = base_url.rstrip("/")

    def place(self, attempt: CallAttempt, caller_phone: str) -> str:
        """Ring the caller's own phone; when they answer, Twilio fetches the bridge TwiML. Returns the SID."""
        call = self.client.calls.create(
            to=caller_phone,
            from_=self.from_number,
            url=f"{self.base_url}/twilio/voice/bridge/{attempt.id}",
            method="POST",
        )
        return call.sid


def dialer_from_config(config: Mapping[str, Any], *, http_client: Any = None) -> TwilioDialer | None:
    if not voice_configured(config):
        return None
    return TwilioDialer(
        config["TWILIO_ACCOUNT_SID"],
        config["TWILIO_AUTH_TOKEN"],
        from_number=config["TWILIO_FROM"],
        base_url=config["PUBLIC_BASE_URL"],
        http_client=http_client,
    )


class DialFailed(Conflict):
    code = "dial_failed"


def start_call(
    task: CallTask,
    caller: User,
    *,
    now: datetime,
    limits: DialLimits,
    lease_seconds: int,
    dialer: TwilioDialer | None = None,
    recording_consent: bool = False,
) -> CallAttempt:
    """Check everything again, record the attempt, and ring through Twilio when a dialer is given."""
    if not task.is_open:
        raise NotDialable(
            f"This call was closed ({task.closed_reason or task.status.value}).", outcome="closed"
        )
    touch_lease(task, caller, now=now, lease_seconds=lease_seconds)
    open_attempt = current_attempt(task)
    if open_attempt is not None:
        return open_attempt  # a second press does not dial twice
    check_dialable(task, now=now, limits=limits)
    attempt = CallAttempt(
        task_id=task.id,
        campaign_id=task.campaign_id,
        contact_id=task.contact_id,
        caller_id=caller.id,
        phone=task.contact.phone,
        started_at=now,
        recording_consent=recording_consent and task.campaign.call_recording,
        response_id=task.response_id,
    )
    db.session.add(attempt)
    task.attempts += 1
    db.session.flush()
    if dialer is not None:
        if not caller.phone:
            raise DialFailed("Add your own phone number to your profile to call through Twilio.")
        from twilio.base.exceptions import TwilioException

        try:
            attempt.twilio_call_sid = dialer.place(attempt, caller.phone)
        except TwilioException as error:
            raise DialFailed(f"Twilio could not place the call: {error}") from None
        attempt.twilio_status = "queued"
    return attempt


def current_attempt(task: CallTask) -> CallAttempt | None:
    """The attempt started on this task and not yet given a disposition."""
    return db.session.scalar(
        select(CallAttempt)
        .where(CallAttempt.task_id == task.id, CallAttempt.disposition.is_(None))
        .order_by(CallAttempt.started_at.desc())
        .limit(1)
    )


def bridge_twiml(attempt: CallAttempt, *, from_number: str, base_url: str) -> str:
    """What Twilio plays once the caller answered: dial the task's contact (from the database)."""
    from twilio.twiml.voice_response import Dial, VoiceResponse

    base = base_url.rstrip("/")
    response = VoiceResponse()
    record = attempt.recording_consent
    dial = Dial(caller_id=from_number, record="record-from-answer-dual" if record else None)
    dial.number(
        attempt.phone,
        status_callback=f"{base}/twilio/voice/status/{attempt.id}",
        status_callback_event=STATUS_EVENTS,
        status_callback_method="POST",
        url=f"{base}/twilio/voice/announce/{attempt.id}" if record else None,
    )
    response.append(dial)
    return str(response)


def announcement_twiml() -> str:
    """Played to the contact before the bridge when the call is recorded (consent given)."""
    from twilio.twiml.voice_response import VoiceResponse

    response = VoiceResponse()
    response.say(RECORDING_NOTICE)
    return str(response)


def apply_call_status(attempt: CallAttempt, form: Mapping[str, str], *, now: datetime) -> None:
    """A Twilio status callback: keep the status, answer and end times, and the duration."""
    status = (form.get("CallStatus") or "").strip()[:32]
    if status:
        attempt.twilio_status = status
    if status == "in-progress" and attempt.answered_at is None:
        attempt.answered_at = now
    if status in ("completed", "busy", "no-answer", "failed", "canceled"):
        attempt.ended_at = attempt.ended_at or now
        duration = form.get("CallDuration") or form.get("DialCallDuration")
        if duration and duration.isdigit():
            attempt.duration_seconds = int(duration)


def count_for_number(phone: str, *, since: datetime) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(CallAttempt)
            .where(CallAttempt.phone == phone, CallAttempt.started_at > since)
        )
        or 0
    )
