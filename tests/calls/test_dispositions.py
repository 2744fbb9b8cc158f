"""Dispositions: retries with per-campaign delays and caps, callbacks, do not call, requalified."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.auth.models import Role
from app.errors import ValidationError
from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.models import DoNotContactEntry, MessageStatus, OutboundMessage
from app.messaging.service import enqueue_message
from campaigns.calls.dialing import DialLimits, start_call
from campaigns.calls.dispositions import record_disposition
from campaigns.calls.models import CallAttempt, CallTask, Disposition, TaskStatus
from campaigns.calls.queue import claim_next_task
from campaigns.models import Enrollment, EnrollmentStatus
from tests.calls.conftest import LEASE, NOW


def _claim(queue, now=NOW):
    task = claim_next_task(queue.caller, now=now, lease_seconds=LEASE)
    db.session.commit()
    return task


def _dispose(task, queue, disposition, now=NOW, **kwargs):
    attempt = record_disposition(task, queue.caller, disposition, now=now, lease_seconds=LEASE, **kwargs)
    db.session.commit()
    return attempt


def test_no_answer_is_retried_after_the_campaigns_delay(make_queue):
    queue = make_queue(1, call_retry_hours={"no_answer": 4, "busy": 1, "voicemail": 24})
    task = _claim(queue)
    start_call(task, queue.caller, now=NOW, limits=DialLimits(), lease_seconds=LEASE)
    attempt = _dispose(task, queue, Disposition.NO_ANSWER, notes="Rang out")
    assert attempt.disposition is Disposition.NO_ANSWER
    assert attempt.notes == "Rang out"
    assert task.status is TaskStatus.READY
    assert task.leased_by_id is None
    assert task.due_at == NOW + timedelta(hours=4)
    assert task.attempts == 1
    assert claim_next_task(queue.caller, now=NOW + timedelta(hours=3), lease_seconds=LEASE) is None
    assert claim_next_task(queue.caller, now=NOW + timedelta(hours=4), lease_seconds=LEASE).id == task.id


def test_an_outcome_cap_exhausts_the_task_with_its_reason(make_queue):
    queue = make_queue(1, call_outcome_caps={"busy": 2}, call_retry_hours={"busy": 0})
    for hour in range(2):  # no cool-down, but one contact is called at most once an hour
        task = _claim(queue, now=NOW + timedelta(hours=hour))
        _dispose(task, queue, Disposition.BUSY, now=NOW + timedelta(hours=hour))
    assert task.status is TaskStatus.EXHAUSTED
    assert task.closed_reason == "busy cap reached"
    assert task.enrollment.status is EnrollmentStatus.EXHAUSTED


def test_the_lifetime_cap_exhausts_the_task(make_queue):
    queue = make_queue(1, call_max_attempts=2, call_retry_hours={"voicemail": 0})
    for hour in range(2):  # no cool-down, but one contact is called at most once an hour
        task = _claim(queue, now=NOW + timedelta(hours=hour))
        _dispose(task, queue, Disposition.VOICEMAIL, now=NOW + timedelta(hours=hour))
    assert task.status is TaskStatus.EXHAUSTED
    assert task.closed_reason == "attempts cap reached"


def test_a_personal_callback_waits_for_its_time_and_owner(make_queue, make_user):
    queue = make_queue(1, callback_release_minutes=20)
    task = _claim(queue)
    when = NOW + timedelta(hours=2)
    _dispose(task, queue, Disposition.CALLBACK, callback_at=when, callback_for_me=True)
    assert (task.status, task.due_at, task.callback_owner_id) == (TaskStatus.READY, when, queue.caller.id)
    assert task.callback_release_at == when + timedelta(minutes=20)
    colleague = make_user(Role.CALLER)
    queue.campaign.callers.append(colleague)
    db.session.commit()
    assert claim_next_task(colleague, now=when, lease_seconds=LEASE) is None
    db.session.commit()
    assert claim_next_task(colleague, now=when + timedelta(minutes=21), lease_seconds=LEASE).id == task.id


def test_a_callback_for_anyone_goes_to_the_first_caller_free(make_queue, make_user):
    queue = make_queue(1)
    task = _claim(queue)
    _dispose(task, queue, Disposition.CALLBACK, callback_at=NOW + timedelta(hours=1), callback_for_me=False)
    colleague = make_user(Role.CALLER)
    queue.campaign.callers.append(colleague)
    db.session.commit()
    assert claim_next_task(colleague, now=NOW + timedelta(hours=1), lease_seconds=LEASE).id == task.id


@pytest.mark.parametrize("when", [None, timedelta(hours=-1), timedelta(days=400)])
def test_a_callback_needs_a_time_in_the_coming_year(make_queue, when):
    queue = make_queue(1)
    task = _claim(queue)
    with pytest.raises(ValidationError):
        record_disposition(
            task,
            queue.caller,
            Disposition.CALLBACK,
            now=NOW,
            lease_seconds=LEASE,
            callback_at=NOW + when if when else None,
        )


def test_do_not_call_lists_the_number_and_cancels_everything_for_the_contact(make_queue, make_user):
    queue = make_queue(1)
    contact = queue.contacts[0]
    other = make_queue(0, phones=[], fill=False, caller=make_user(Role.CALLER))
    db.session.add(
        Enrollment(campaign=other.campaign, opportunity=queue.enrollments[0].opportunity, contact=contact)
    )
    db.session.commit()
    from campaigns.calls.queue import fill_queue

    fill_queue(now=NOW)
    enqueue_message(
        channel=Channel.EMAIL,
        recipient=contact.email,
        subject="Hi",
        body_text="Hello",
        contact=contact,
        idempotency_key="dnc-test",
        now=NOW,
    )
    db.session.commit()
    task = _claim(queue)
    _dispose(task, queue, Disposition.DO_NOT_CALL)
    db.session.expire_all()
    assert db.session.scalar(select(DoNotContactEntry.value)) == contact.phone
    assert contact.do_not_call
    assert {t.status for t in db.session.scalars(select(CallTask))} == {TaskStatus.CANCELLED}
    assert {e.status for e in db.session.scalars(select(Enrollment))} == {EnrollmentStatus.OPTED_OUT}
    assert db.session.scalar(select(OutboundMessage.status)) is MessageStatus.CANCELLED


def test_requalified_stores_the_callers_short_form_on_task_and_attempt(make_queue):
    queue = make_queue(1)
    task = _claim(queue)
    form = {
        "what_changed": "New CFO, unhappy with Globex",
        "budget": "$40k",
        "timeline": "Q1",
        "decision_maker": "Dana (CFO)",
        "next_step": "Demo on Friday",
    }
    attempt = _dispose(task, queue, Disposition.REQUALIFIED, requalification=form)
    assert task.requalification == form
    assert attempt.requalification == form
    assert task.status is TaskStatus.DONE
    assert task.enrollment.status is EnrollmentStatus.REQUALIFIED


def test_requalified_needs_at_least_what_changed(make_queue):
    queue = make_queue(1)
    task = _claim(queue)
    with pytest.raises(ValidationError, match="what changed"):
        record_disposition(
            task, queue.caller, Disposition.REQUALIFIED, now=NOW, lease_seconds=LEASE, requalification={}
        )


@pytest.mark.parametrize(
    ("disposition", "enrollment_status"),
    [
        (Disposition.NOT_INTERESTED, EnrollmentStatus.COMPLETED),
        (Disposition.COMPLETED, EnrollmentStatus.COMPLETED),
        (Disposition.WRONG_NUMBER, EnrollmentStatus.EXHAUSTED),
    ],
)
def test_final_dispositions_close_the_task_and_the_enrollment(make_queue, disposition, enrollment_status):
    queue = make_queue(1)
    task = _claim(queue)
    _dispose(task, queue, disposition)
    assert task.status is TaskStatus.DONE
    assert task.enrollment.status is enrollment_status
    assert db.session.scalar(select(CallAttempt.disposition)) is disposition


def test_a_disposition_on_a_task_someone_else_took_is_refused(make_queue, make_user):
    from campaigns.calls.queue import LeaseLost

    queue = make_queue(1)
    task = _claim(queue)
    colleague = make_user(Role.CALLER)
    queue.campaign.callers.append(colleague)
    db.session.commit()
    later = NOW + timedelta(minutes=20)
    assert claim_next_task(colleague, now=later, lease_seconds=LEASE).id == task.id
    db.session.commit()
    with pytest.raises(LeaseLost):
        record_disposition(task, queue.caller, Disposition.NO_ANSWER, now=later, lease_seconds=LEASE)
