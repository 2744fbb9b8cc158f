"""Pressing "Call": everything checked again, then click-to-call through Twilio (or by hand).

The number dialled is always the claimed task's contact number, read from the database; nothing the
browser sends chooses it. Only a task the caller holds through the queue (lease unexpired, due, in an
active campaign they are assigned to) may be dialled. The attempt is committed before Twilio is asked
to ring the caller's phone; when they answer, the bridge checks everything again before it dials.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select, update

from app.auth.models import User
from app.crm.places import contact_zones, zone_info
from app.errors import Conflict
from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.suppression import contact_suppression_reason
from campaigns.calls.health import active_hold
from campaigns.calls.hours import campaign_window, next_opening, state_rule_for_phone, window_holds
from campaigns.calls.models import CallAttempt, CallTask, TaskStatus
from campaigns.calls.queue import LeaseLost, cancel_contact_tasks, release_task
from campaigns.calls.voice import DialFailed, TwilioDialer
from campaigns.models import CampaignStatus, EnrollmentStatus, campaign_callers

DEFAULT_MAX_PER_NUMBER_24H = 5


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
    hold = active_hold(contact, contact.phone, now=now)
    if hold is not None:
        _later(task, hold.held_until or now + timedelta(days=1), now=now)
        raise NotDialable(
            f"This number is held ({hold.reason}); the call went back to the queue.", outcome="later"
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


# ------------------------------------------------------------------------------------ the queue's rules


def _is_assigned(caller: User, campaign_id: int) -> bool:
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    campaign_callers.c.campaign_id == campaign_id, campaign_callers.c.user_id == caller.id
                )
            )
        )
    )


def check_held_through_queue(task: CallTask, caller: User, *, now: datetime) -> None:
    """Raise unless the caller holds this task through the queue now, and the queue would give it to them.

    The lease is unexpired and theirs, its campaign is active and they are assigned to it, the task is
    due, and a personal callback is theirs or released. A task they merely held before (retry later,
    Back then Call) is not theirs to dial or to record as called.
    """
    if not (task.status is TaskStatus.LEASED and task.leased_by_id == caller.id):
        raise LeaseLost("This call is not yours any more: press Next call to get the next one.")
    if task.lease_expires_at is None or task.lease_expires_at <= now:
        raise LeaseLost("Your hold on this call expired: press Next call to get the next one.")
    refusal = _queue_refusal(task, caller, now=now)
    if refusal is not None:
        release_task(task)
        raise NotDialable(refusal, outcome="later")


def _queue_refusal(task: CallTask, caller: User, *, now: datetime) -> str | None:
    if task.campaign.status is not CampaignStatus.ACTIVE:
        return f"The campaign is {task.campaign.status.value}: its calls wait until it is active again."
    if not _is_assigned(caller, task.campaign_id):
        return "You are no longer assigned to this campaign; the call went back to the queue."
    if task.due_at > now:
        return "This call is not due yet; it went back to the queue."
    owner = task.callback_owner_id
    if owner not in (None, caller.id) and not (task.callback_release_at and task.callback_release_at <= now):
        return "This is another caller's callback; it went back to the queue."
    return None


def _renew_lease_first(task: CallTask, caller: User, *, now: datetime, lease_seconds: int) -> None:
    """Renew a lease still held with an UPDATE before anything is read, then read the task again.

    Two presses of Call at once queue up on it (the row lock on PostgreSQL, the write lock on SQLite):
    the second one sees the attempt the first one recorded and does not start another.
    """
    db.session.execute(
        update(CallTask)
        .where(
            CallTask.id == task.id,
            CallTask.status == TaskStatus.LEASED,
            CallTask.leased_by_id == caller.id,
            CallTask.lease_expires_at > now,
        )
        .values(lease_expires_at=now + timedelta(seconds=lease_seconds)),
        execution_options={"synchronize_session": False},
    )
    db.session.refresh(task)


def start_call(
    task: CallTask,
    caller: User,
    *,
    now: datetime,
    limits: DialLimits,
    lease_seconds: int,
    recording_consent: bool = False,
) -> CallAttempt:
    """Check everything again and record the attempt. The caller commits it before ringing Twilio."""
    _renew_lease_first(task, caller, now=now, lease_seconds=lease_seconds)
    if not task.is_open:
        raise NotDialable(
            f"This call was closed ({task.closed_reason or task.status.value}).", outcome="closed"
        )
    check_held_through_queue(task, caller, now=now)
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
    return attempt


def ring_caller(attempt: CallAttempt, caller: User, dialer: TwilioDialer) -> None:
    """Ask Twilio to ring the caller's phone for a committed attempt; call it outside any transaction."""
    if not caller.phone:
        raise DialFailed("Add your own phone number to your profile to call through Twilio.")
    attempt.twilio_call_sid = dialer.place(attempt, caller.phone)
    attempt.mode = "phone"
    if attempt.twilio_status is None:  # a status callback may have come first
        attempt.twilio_status = "queued"


def mark_connected(attempt: CallAttempt, mode: str, *, now: datetime) -> None:
    """The caller is on the call (dialling by hand, or their phone answered): handling time starts."""
    attempt.mode = attempt.mode or mode
    attempt.connected_at = attempt.connected_at or now


def withdraw_attempt(attempt: CallAttempt) -> None:
    """Twilio did not place the call: forget the attempt (its callback token can never match again)."""
    attempt.task.attempts = max(attempt.task.attempts - 1, 0)
    db.session.delete(attempt)
    db.session.flush()


def current_attempt(task: CallTask) -> CallAttempt | None:
    """The attempt started on this task and not yet given a disposition (nor abandoned with its lease)."""
    return db.session.scalar(
        select(CallAttempt)
        .where(
            CallAttempt.task_id == task.id,
            CallAttempt.disposition.is_(None),
            CallAttempt.abandoned_at.is_(None),
        )
        .order_by(CallAttempt.started_at.desc(), CallAttempt.id.desc())
        .limit(1)
    )


# ------------------------------------------------------------------------------------------- bridge


def bridge_refusal(attempt: CallAttempt, *, now: datetime) -> str | None:
    """Why the caller must not be put through to the contact now, or None when they may.

    Checked when Twilio asks for the bridge, seconds or minutes after Call was pressed: in between
    the caller may have recorded a disposition, the contact opted out, the lease or the window ended.
    """
    task = attempt.task
    if attempt.disposition is not None or attempt.abandoned_at is not None:
        return "attempt closed"
    if not (
        task.status is TaskStatus.LEASED
        and task.leased_by_id == attempt.caller_id
        and task.lease_expires_at is not None
        and task.lease_expires_at > now
    ):
        return "lease not held"
    if task.campaign.status is not CampaignStatus.ACTIVE:
        return "campaign not active"
    if task.enrollment.status is not EnrollmentStatus.ACTIVE:
        return "enrollment ended"
    return _contact_refusal(task, attempt.phone, now=now)


def _contact_refusal(task: CallTask, phone: str, *, now: datetime) -> str | None:
    contact = task.contact
    if contact.phone != phone:
        return "number changed"
    reason = contact_suppression_reason(contact, Channel.CALL)
    if reason is not None:
        return f"suppressed: {reason.value}"
    zones = contact_zones(contact)
    window = campaign_window(task.campaign).narrowed(state_rule_for_phone(phone))
    if not zones or not window_holds(zones, window, now):
        return "outside calling hours"
    return None


def hand_back(task: CallTask, *, now: datetime) -> None:
    """A supervisor puts a held call back in the queue: the caller's open attempt ends with it."""
    attempt = current_attempt(task)
    if attempt is not None:
        attempt.abandoned_at = now
        attempt.ended_at = attempt.ended_at or now
    release_task(task)
