"""What the caller records at the end of a call, and what the queue does next."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import func, select

from app.audit.service import record_event
from app.auth.models import User
from app.errors import ValidationError
from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.service import opt_out_contact
from campaigns.calls.dialing import current_attempt
from campaigns.calls.models import REQUALIFICATION_FIELDS, CallAttempt, CallTask, Disposition, TaskStatus
from campaigns.calls.queue import (
    CALLBACK_BOOST,
    callback_priority,
    cancel_contact_tasks,
    release_task,
    touch_lease,
)
from campaigns.calls.signals import call_requalified
from campaigns.enrollment import mark_opted_out
from campaigns.models import RETRY_OUTCOMES, EnrollmentStatus

RETRIED = (Disposition.NO_ANSWER, Disposition.BUSY, Disposition.VOICEMAIL)
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
) -> CallAttempt:
    """Close the call's attempt with the disposition and move the task on: retry, callback, or done."""
    touch_lease(task, caller, now=now, lease_seconds=lease_seconds)
    campaign = task.campaign
    notes = (notes or "").strip() or None
    if notes and len(notes) > FORM_LIMIT:
        raise ValidationError(f"Please keep the notes under {FORM_LIMIT} characters.", field="notes")
    form = clean_requalification(requalification or {}) if disposition is Disposition.REQUALIFIED else None
    if disposition is Disposition.CALLBACK:
        if callback_at is None:
            raise ValidationError("Say when to call back.", field="callback_at")
        if callback_at <= now:
            raise ValidationError("The callback time must be in the future.", field="callback_at")
        if callback_at > now + timedelta(days=365):
            raise ValidationError("The callback time must be within a year.", field="callback_at")
    attempt = current_attempt(task)
    if attempt is None:  # dialled by hand without pressing Call, or nobody picked up at all
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
    attempt.disposition = disposition
    attempt.disposed_at = now
    attempt.ended_at = attempt.ended_at or now
    attempt.notes = notes
    attempt.response_id = task.response_id
    db.session.flush()

    if disposition in RETRIED:
        retry_hours = (campaign.call_retry_hours or {}).get(
            disposition.value, RETRY_OUTCOMES[disposition.value]
        )
        cap = (campaign.call_outcome_caps or {}).get(disposition.value)
        if task.attempts >= campaign.call_max_attempts:
            _finish(
                task,
                TaskStatus.EXHAUSTED,
                "attempts cap reached",
                now=now,
                enrollment_status=EnrollmentStatus.EXHAUSTED,
            )
        elif cap is not None and _outcome_count(task, disposition) >= int(cap):
            _finish(
                task,
                TaskStatus.EXHAUSTED,
                f"{disposition.value} cap reached",
                now=now,
                enrollment_status=EnrollmentStatus.EXHAUSTED,
            )
        else:
            release_task(task)
            task.due_at = now + timedelta(hours=float(retry_hours))
            task.priority = max(task.priority % CALLBACK_BOOST - 1, 0)
            task.callback_owner_id = None
            task.callback_at = task.callback_release_at = None
    elif disposition is Disposition.CALLBACK:
        attempt.callback_at = callback_at
        release_task(task)
        task.due_at = callback_at
        task.callback_at = callback_at
        task.callback_owner_id = caller.id if callback_for_me else None
        task.callback_release_at = callback_at + timedelta(minutes=campaign.callback_release_minutes)
        task.priority = callback_priority(task.priority, personal=callback_for_me)
    elif disposition is Disposition.DO_NOT_CALL:
        contact = task.contact
        _finish(
            task, TaskStatus.CANCELLED, "do not call", now=now, enrollment_status=EnrollmentStatus.OPTED_OUT
        )
        db.session.flush()
        # The phone goes on the do-not-contact list; queued messages, enrollments and tasks all end.
        opt_out_contact(contact, Channel.CALL, source="caller: do not call", now=now, actor_id=caller.id)
        mark_opted_out(contact.id, channel=None, now=now)
        cancel_contact_tasks(contact.id, reason="do not call", now=now)
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
