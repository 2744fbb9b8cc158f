"""What the caller records at the end of a call, and what the queue does next."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from app.audit.service import record_event
from app.auth.models import User
from app.errors import DomainError, ValidationError
from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.service import opt_out_contact
from campaigns.calls.clocks import check_callback_window
from campaigns.calls.dialing import DialLimits, check_dialable, check_held_through_queue, current_attempt
from campaigns.calls.drafts import clear_drafts
from campaigns.calls.health import (
    FAILED_DISPOSITIONS,
    HealthRules,
    end_number_for_contact,
    note_failed_call,
)
from campaigns.calls.models import REQUALIFICATION_FIELDS, CallAttempt, CallTask, Disposition, TaskStatus
from campaigns.calls.queue import CALLBACK_BOOST, callback_priority, release_task, touch_lease
from campaigns.calls.script import complete_script, discard_unconnected_answers, save_script
from campaigns.calls.signals import call_requalified
from campaigns.calls.voice import hang_up_after_commit
from campaigns.models import RETRY_OUTCOMES, EnrollmentStatus
from surveys.responding import FormData

RETRIED = (Disposition.NO_ANSWER, Disposition.BUSY, Disposition.VOICEMAIL)
NEVER_CONNECTED = RETRIED  # nobody was spoken to: answers typed during the call are not a response
FINAL = {
    Disposition.WRONG_NUMBER: EnrollmentStatus.EXHAUSTED,
    Disposition.NOT_INTERESTED: EnrollmentStatus.COMPLETED,
    Disposition.COMPLETED: EnrollmentStatus.COMPLETED,
    Disposition.REQUALIFIED: EnrollmentStatus.REQUALIFIED,
}
FORM_LIMIT = 2000


def clean_requalification(values: Mapping[str, str]) -> dict[str, str]:
    form = {name: (values.get(name) or "").strip() for name, _ in REQUALIFICATION_FIELDS}
    if not any(form.values()):
        raise ValidationError(
            "Say at least what changed before marking the deal requalified.", field="what_changed"
        )
    for name, label in REQUALIFICATION_FIELDS:
        if len(form[name]) > FORM_LIMIT:
            raise ValidationError(f"{label}: please keep it under {FORM_LIMIT} characters.", field=name)
    return form


def _outcome_count(task: CallTask, disposition: Disposition) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(CallAttempt)
            .where(CallAttempt.task_id == task.id, CallAttempt.disposition == disposition)
        )
        or 0
    )


def _finish(
    task: CallTask,
    status: TaskStatus,
    reason: str,
    *,
    now: datetime,
    enrollment_status: EnrollmentStatus | None,
) -> None:
    release_task(task)
    task.status = status
    task.closed_reason = reason[:120]
    task.closed_at = now
    if enrollment_status is not None and task.enrollment.status is EnrollmentStatus.ACTIVE:
        task.enrollment.status = enrollment_status
        task.enrollment.status_changed_at = now


def _check_callback(
    task: CallTask, disposition: Disposition, callback_at: datetime | None, *, now: datetime
) -> None:
    if disposition is not Disposition.CALLBACK:
        return
    if callback_at is None:
        raise ValidationError("Say when to call back.", field="callback_at")
    if callback_at <= now:
        raise ValidationError("The callback time must be in the future.", field="callback_at")
    if callback_at > now + timedelta(days=365):
        raise ValidationError("The callback time must be within a year.", field="callback_at")
    check_callback_window(task, callback_at)


def _hand_dialled_attempt(task: CallTask, caller: User, *, now: datetime, limits: DialLimits) -> CallAttempt:
    """A call made without pressing Call (or nobody picked up): the same checks as pressing Call."""
    check_held_through_queue(task, caller, now=now)
    check_dialable(task, now=now, limits=limits)
    attempt = CallAttempt(
        task_id=task.id,
        campaign_id=task.campaign_id,
        contact_id=task.contact_id,
        caller_id=caller.id,
        phone=task.contact.phone or "",
        started_at=now,
        response_id=task.response_id,
    )
    db.session.add(attempt)
    task.attempts += 1
    return attempt


def record_disposition(
    task: CallTask,
    caller: User,
    disposition: Disposition,
    *,
    now: datetime,
    lease_seconds: int,
    notes: str | None = None,
    callback_at: datetime | None = None,
    callback_for_me: bool = True,
    requalification: Mapping[str, str] | None = None,
    limits: DialLimits | None = None,
    health: HealthRules | None = None,
    hang_up: bool = True,
) -> CallAttempt:
    """Close the call's attempt with the disposition and move the task on: retry, callback, or done.

    Without an attempt (dialled by hand) the task is checked as when pressing Call: a suppressed
    number, a paused campaign or a task not due cannot be recorded as called. A call still ringing
    or bridged is hung up through Twilio once this commits (unless `hang_up` is false: the voicemail
    drop takes the contact's leg out of the bridge itself). No answer and busy count towards holding
    the number; a wrong number ends it for the contact.
    """
    touch_lease(task, caller, now=now, lease_seconds=lease_seconds)
    notes = (notes or "").strip() or None
    if notes and len(notes) > FORM_LIMIT:
        raise ValidationError(f"Please keep the notes under {FORM_LIMIT} characters.", field="notes")
    form = clean_requalification(requalification or {}) if disposition is Disposition.REQUALIFIED else None
    _check_callback(task, disposition, callback_at, now=now)
    attempt = current_attempt(task)
    if attempt is None:
        attempt = _hand_dialled_attempt(task, caller, now=now, limits=limits or DialLimits())
    elif hang_up:
        hang_up_after_commit([attempt])
    attempt.disposition = disposition
    attempt.disposed_at = now
    attempt.ended_at = attempt.ended_at or now
    attempt.notes = notes
    attempt.response_id = task.response_id
    db.session.flush()
    if disposition in NEVER_CONNECTED:
        discard_unconnected_answers(task, attempt)
    clear_drafts(task)
    _number_health(task, attempt, disposition, now=now, health=health)
    if disposition in RETRIED:
        _retry_later(task, disposition, now=now)
    elif disposition is Disposition.CALLBACK:
        _call_back(task, attempt, caller, callback_at, personal=callback_for_me)
    elif disposition is Disposition.DO_NOT_CALL:
        _finish(task, TaskStatus.CANCELLED, "do not call", now=now, enrollment_status=None)
        db.session.flush()
        # One decision: the number goes on the do-not-contact list, and the opt-out's listeners end
        # the contact's call enrollments and tasks and hang up any call still in flight.
        opt_out_contact(task.contact, Channel.CALL, source="caller: do not call", now=now, actor_id=caller.id)
    else:
        if form is not None:
            attempt.requalification = form
            task.requalification = form
        _finish(task, TaskStatus.DONE, disposition.value, now=now, enrollment_status=FINAL[disposition])
    record_event(
        "call.disposition",
        "call_task",
        task.id,
        actor=caller,
        details={"disposition": disposition.value, "attempt": attempt.id},
        now=now,
    )
    db.session.flush()
    if form is not None:
        call_requalified.send(attempt, now=now)
    return attempt


def _number_health(
    task: CallTask,
    attempt: CallAttempt,
    disposition: Disposition,
    *,
    now: datetime,
    health: HealthRules | None,
) -> None:
    if disposition in FAILED_DISPOSITIONS:
        note_failed_call(attempt.phone, now=now, rules=health or HealthRules())
    elif disposition is Disposition.WRONG_NUMBER and attempt.phone:
        end_number_for_contact(task.contact, attempt.phone, now=now)


def _retry_later(task: CallTask, disposition: Disposition, *, now: datetime) -> None:
    campaign = task.campaign
    retry_hours = (campaign.call_retry_hours or {}).get(disposition.value, RETRY_OUTCOMES[disposition.value])
    cap = (campaign.call_outcome_caps or {}).get(disposition.value)
    if task.attempts >= campaign.call_max_attempts:
        reason = "attempts cap reached"
    elif cap is not None and _outcome_count(task, disposition) >= int(cap):
        reason = f"{disposition.value} cap reached"
    else:
        release_task(task)
        task.due_at = now + timedelta(hours=float(retry_hours))
        task.priority = max(task.priority % CALLBACK_BOOST - 1, 0)
        task.callback_owner_id = None
        task.callback_at = task.callback_release_at = None
        return
    _finish(task, TaskStatus.EXHAUSTED, reason, now=now, enrollment_status=EnrollmentStatus.EXHAUSTED)


def _call_back(
    task: CallTask, attempt: CallAttempt, caller: User, callback_at: datetime | None, *, personal: bool
) -> None:
    assert callback_at is not None  # noqa: S101 (checked by _check_callback)
    attempt.callback_at = callback_at
    release_task(task)
    task.due_at = callback_at
    task.callback_at = callback_at
    task.callback_owner_id = caller.id if personal else None
    task.callback_release_at = callback_at + timedelta(minutes=task.campaign.callback_release_minutes)
    task.priority = callback_priority(task.priority, personal=personal)


def dispose_call(
    task: CallTask,
    caller: User,
    disposition: Disposition,
    answers: FormData,
    *,
    now: datetime,
    lease_seconds: int,
    limits: DialLimits,
    **fields: Any,
) -> CallAttempt:
    """What the caller's screen posts at the end of a call: the script's answers, then the disposition.

    The answers typed so far are kept (a refused one is shown again, it does not block the disposition),
    unless the call never connected; "completed" needs the script's required answers.
    """
    touch_lease(task, caller, now=now, lease_seconds=lease_seconds)
    if task.campaign.survey_version is not None and disposition not in NEVER_CONNECTED:
        try:
            with db.session.begin_nested():
                save_script(task, caller, answers, now=now)
        except DomainError:
            pass  # the response was closed meanwhile: nothing more to save on it
    if disposition is Disposition.COMPLETED:
        complete_script(task, now=now)
    return record_disposition(
        task, caller, disposition, now=now, lease_seconds=lease_seconds, limits=limits, **fields
    )
