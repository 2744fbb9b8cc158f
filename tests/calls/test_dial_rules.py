"""Only a task held through the queue is dialled or recorded as called; abandoned attempts stay closed."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.auth.models import Role
from app.extensions import db
from app.messaging.models import DoNotContactKind
from app.messaging.service import add_do_not_contact
from campaigns.calls.dialing import DialLimits, NotDialable, start_call
from campaigns.calls.dispositions import record_disposition
from campaigns.calls.models import CallAttempt, CallTask, Disposition, TaskStatus
from campaigns.calls.queue import LeaseLost, claim_next_task
from campaigns.models import CampaignStatus
from tests.calls.conftest import LEASE, NOW

LIMITS = DialLimits()


def _claim(caller, now=NOW):
    task = claim_next_task(caller, now=now, lease_seconds=LEASE)
    db.session.commit()
    return task


def _call(task, caller, now=NOW):
    attempt = start_call(task, caller, now=now, limits=LIMITS, lease_seconds=LEASE)
    db.session.commit()
    return attempt


def _attempts() -> list[CallAttempt]:
    return list(db.session.scalars(select(CallAttempt).order_by(CallAttempt.id)))


# ------------------------------------------------------------------------------------ item 3: redial


def test_a_paused_campaign_cannot_be_dialled_and_its_task_goes_back_to_the_queue(make_queue):
    queue = make_queue(1)
    task = _claim(queue.caller)
    queue.campaign.status = CampaignStatus.PAUSED
    db.session.commit()
    with pytest.raises(NotDialable, match="paused"):
        start_call(task, queue.caller, now=NOW, limits=LIMITS, lease_seconds=LEASE)
    db.session.commit()
    assert task.status is TaskStatus.READY
    assert _attempts() == []


@pytest.mark.parametrize("again", ["dial", "no_answer"])
def test_after_no_answer_the_caller_cannot_dial_or_record_the_contact_again_at_once(make_queue, again):
    queue = make_queue(1)
    task = _claim(queue.caller)
    _call(task, queue.caller)
    record_disposition(task, queue.caller, Disposition.NO_ANSWER, now=NOW, lease_seconds=LEASE)
    db.session.commit()
    soon = NOW + timedelta(milliseconds=24)
    if again == "dial":  # Back, then Call
        with pytest.raises(LeaseLost):
            start_call(task, queue.caller, now=soon, limits=LIMITS, lease_seconds=LEASE)
    else:  # the same form posted again
        with pytest.raises(LeaseLost):
            record_disposition(task, queue.caller, Disposition.NO_ANSWER, now=soon, lease_seconds=LEASE)
    db.session.rollback()
    assert len(_attempts()) == 1
    assert db.session.get(CallTask, task.id).attempts == 1


def _not_due(task, queue, colleague):
    task.due_at = NOW + timedelta(hours=4)


def _someone_elses_callback(task, queue, colleague):
    task.callback_owner_id = colleague.id
    task.callback_release_at = NOW + timedelta(hours=1)


def _unassigned(task, queue, colleague):
    queue.campaign.callers.remove(queue.caller)


@pytest.mark.parametrize("spoil", [_not_due, _someone_elses_callback, _unassigned])
def test_a_held_task_is_dialled_only_when_the_queue_would_give_it_to_this_caller_now(
    make_queue, make_user, spoil
):
    queue = make_queue(1)
    colleague = make_user(Role.CALLER)
    task = _claim(queue.caller)
    spoil(task, queue, colleague)
    db.session.commit()
    with pytest.raises(NotDialable):
        start_call(task, queue.caller, now=NOW, limits=LIMITS, lease_seconds=LEASE)
    db.session.commit()
    assert task.status is TaskStatus.READY
    assert _attempts() == []


def test_an_expired_lease_cannot_be_dialled_even_before_it_is_released(make_queue):
    queue = make_queue(1)
    task = _claim(queue.caller)
    with pytest.raises(LeaseLost, match="expired"):
        start_call(task, queue.caller, now=NOW + timedelta(seconds=LEASE), limits=LIMITS, lease_seconds=LEASE)


# ------------------------------------------------------------- item 4: a disposition without a call


def test_a_do_not_contact_number_cannot_be_recorded_not_interested_without_a_call(make_queue):
    queue = make_queue(1)
    task = _claim(queue.caller)
    add_do_not_contact(DoNotContactKind.PHONE, task.contact.phone, source="admin", now=NOW)
    db.session.commit()
    with pytest.raises(NotDialable, match="do not contact"):
        record_disposition(task, queue.caller, Disposition.NOT_INTERESTED, now=NOW, lease_seconds=LEASE)
    db.session.commit()
    assert _attempts() == []
    assert db.session.get(CallTask, task.id).status is TaskStatus.CANCELLED


@pytest.mark.parametrize("when", ["paused", "night"])
def test_a_disposition_without_a_call_is_refused_where_a_call_would_be(make_queue, when):
    queue = make_queue(1)
    task = _claim(queue.caller)
    now = NOW
    if when == "paused":
        queue.campaign.status = CampaignStatus.PAUSED
    else:
        task.lease_expires_at = now = NOW + timedelta(hours=6)  # 18:00 in New York
    db.session.commit()
    with pytest.raises(NotDialable):
        record_disposition(task, queue.caller, Disposition.NOT_INTERESTED, now=now, lease_seconds=LEASE)
    db.session.commit()
    assert _attempts() == []
    assert db.session.get(CallTask, task.id).enrollment.status.value == "active"


def test_a_disposition_after_pressing_call_is_kept_even_if_the_campaign_was_paused_since(make_queue):
    queue = make_queue(1)
    task = _claim(queue.caller)
    attempt = _call(task, queue.caller)
    queue.campaign.status = CampaignStatus.PAUSED
    db.session.commit()
    record_disposition(task, queue.caller, Disposition.NOT_INTERESTED, now=NOW, lease_seconds=LEASE)
    db.session.commit()
    assert attempt.disposition is Disposition.NOT_INTERESTED


# ----------------------------------------------------------- item 7: an expired lease and its attempt


def test_an_expired_lease_closes_the_open_attempt_and_the_next_caller_gets_a_new_one(make_queue, make_user):
    queue = make_queue(1)
    a = queue.caller
    b = make_user(Role.CALLER)
    queue.campaign.callers.append(b)
    db.session.commit()
    task = _claim(a)
    first = _call(task, a)
    # Past A's lease and past the spacing between two calls to one contact.
    later = NOW + timedelta(seconds=LEASE) + timedelta(minutes=61)
    assert _claim(b, now=later).id == task.id
    second = _call(task, b, now=later)
    record_disposition(task, b, Disposition.NOT_INTERESTED, now=later, lease_seconds=LEASE, notes="B's notes")
    db.session.commit()
    db.session.expire_all()
    first, second = _attempts()
    assert (first.caller_id, first.disposition, first.notes) == (a.id, None, None)
    assert first.abandoned_at == later
    assert first.ended_at == later
    assert (second.caller_id, second.disposition, second.notes) == (
        b.id,
        Disposition.NOT_INTERESTED,
        "B's notes",
    )
    with pytest.raises(LeaseLost):  # A comes back: nothing of theirs is open any more
        record_disposition(task, a, Disposition.BUSY, now=later, lease_seconds=LEASE)


def test_a_supervisor_release_closes_the_callers_open_attempt(make_queue, make_user, login):
    queue = make_queue(1)
    task = _claim(queue.caller)
    _call(task, queue.caller)
    client = login(make_user(Role.ADMIN))
    response = client.post(f"/calls/supervisor/tasks/{task.id}/release", follow_redirects=True)
    assert "is back in the queue" in response.get_data(as_text=True)
    (attempt,) = _attempts()
    assert attempt.abandoned_at is not None
    assert db.session.get(CallTask, task.id).status is TaskStatus.READY


# ------------------------------------------------------------------- two presses of Call at once


def test_two_presses_of_call_at_once_start_one_attempt(app, make_queue):
    from app.auth.models import User

    queue = make_queue(1)
    task_id, caller_id = _claim(queue.caller).id, queue.caller.id
    db.session.remove()
    presses = 2
    barrier = threading.Barrier(presses)
    attempts: list[int] = []
    errors: list[BaseException] = []

    def press() -> None:
        try:
            with app.app_context():
                task, caller = db.session.get(CallTask, task_id), db.session.get(User, caller_id)
                barrier.wait()
                attempts.append(_call(task, caller).id)
                db.session.remove()
        except BaseException as error:  # noqa: BLE001 (reported by the test)
            errors.append(error)

    threads = [threading.Thread(target=press) for _ in range(presses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(attempts)) == 1
    assert len(_attempts()) == 1
    assert db.session.get(CallTask, task_id).attempts == 1
