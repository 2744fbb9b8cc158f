"""Filling and claiming: one caller per contact, one task per caller, leases that expire, callbacks."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select, update

from app.auth.models import Role, User
from app.extensions import db
from campaigns.calls.models import CallTask, TaskStatus
from campaigns.calls.queue import callback_priority, claim_next_task, fill_queue, queue_counts
from campaigns.models import CampaignKind, Enrollment, EnrollmentStatus
from surveys.models import Invitation
from tests.calls.conftest import LEASE, NOW


def _tasks() -> list[CallTask]:
    return list(db.session.scalars(select(CallTask).order_by(CallTask.id)))


def test_fill_queues_one_task_per_enrollment_and_running_it_again_adds_nothing(make_queue):
    make_queue(3)
    assert len(_tasks()) == 3
    assert {task.status for task in _tasks()} == {TaskStatus.READY}
    assert fill_queue(now=NOW)[0].created == 0
    assert len(_tasks()) == 3


def test_the_biggest_deal_is_called_first(make_queue):
    queue = make_queue(3, amounts=[10_000, 90_000, 40_000])
    task = claim_next_task(queue.caller, now=NOW, lease_seconds=LEASE)
    assert task.enrollment.opportunity.amount == 90_000
    assert task.status is TaskStatus.LEASED
    assert task.leased_by_id == queue.caller.id


def test_pressing_next_again_returns_the_task_already_held(make_queue):
    queue = make_queue(3)
    first = claim_next_task(queue.caller, now=NOW, lease_seconds=LEASE)
    db.session.commit()
    again = claim_next_task(queue.caller, now=NOW + timedelta(minutes=1), lease_seconds=LEASE)
    assert again.id == first.id
    assert db.session.scalar(select(func.count()).where(CallTask.status == TaskStatus.LEASED)) == 1


def test_two_callers_never_get_the_same_contact_even_across_campaigns(make_queue, make_user):
    first = make_queue(1)
    contact = first.contacts[0]
    other_caller = make_user(Role.CALLER)
    second = make_queue(0, phones=[], caller=other_caller, fill=False)
    db.session.add(
        Enrollment(campaign=second.campaign, opportunity=first.enrollments[0].opportunity, contact=contact)
    )
    db.session.commit()
    fill_queue(now=NOW)
    db.session.commit()
    assert len(_tasks()) == 2
    assert claim_next_task(first.caller, now=NOW, lease_seconds=LEASE).contact_id == contact.id
    db.session.commit()
    assert claim_next_task(other_caller, now=NOW, lease_seconds=LEASE) is None


def test_a_lease_whose_caller_vanished_expires_and_the_task_keeps_its_history(make_queue, make_user):
    queue = make_queue(1)
    task = claim_next_task(queue.caller, now=NOW, lease_seconds=LEASE)
    task.attempts = 1
    db.session.commit()
    colleague = make_user(Role.CALLER)
    queue.campaign.callers.append(colleague)
    db.session.commit()
    assert claim_next_task(colleague, now=NOW + timedelta(minutes=14), lease_seconds=LEASE) is None
    taken = claim_next_task(colleague, now=NOW + timedelta(minutes=16), lease_seconds=LEASE)
    assert taken.id == task.id
    assert taken.leased_by_id == colleague.id
    assert taken.attempts == 1


def test_a_personal_callback_goes_to_its_owner_first_then_to_anyone(make_queue, make_user):
    queue = make_queue(2)
    colleague = make_user(Role.CALLER)
    queue.campaign.callers.append(colleague)
    callback, fresh = _tasks()
    callback.callback_owner_id = queue.caller.id
    callback.callback_at = NOW
    callback.callback_release_at = NOW + timedelta(minutes=30)
    callback.priority = callback_priority(callback.priority, personal=True)
    db.session.commit()
    # The colleague gets the other task, never the callback that is not theirs yet.
    assert claim_next_task(colleague, now=NOW, lease_seconds=LEASE).id == fresh.id
    db.session.execute(update(CallTask).values(status=TaskStatus.DONE).where(CallTask.id == fresh.id))
    db.session.commit()
    other = make_user(Role.CALLER)
    queue.campaign.callers.append(other)
    db.session.commit()
    assert claim_next_task(other, now=NOW + timedelta(minutes=10), lease_seconds=LEASE) is None
    assert claim_next_task(other, now=NOW + timedelta(minutes=31), lease_seconds=LEASE).id == callback.id


def test_the_owner_of_a_callback_gets_it_before_bigger_deals(make_queue):
    queue = make_queue(2, amounts=[90_000, 10_000])
    big, small = _tasks()
    small.callback_owner_id = queue.caller.id
    small.callback_at = NOW - timedelta(minutes=5)
    small.callback_release_at = NOW + timedelta(minutes=25)
    small.priority = callback_priority(small.priority, personal=True)
    db.session.commit()
    assert claim_next_task(queue.caller, now=NOW, lease_seconds=LEASE).id == small.id


def test_contacts_outside_calling_hours_wait_and_are_counted(make_queue):
    queue = make_queue(2, phones=["+12125550101", "+14155550102"])  # noon in New York, 9:00 in LA
    queue.campaign.calling_window_start = queue.campaign.calling_window_start.replace(hour=10)
    db.session.commit()
    counts = queue_counts(now=NOW)
    assert (counts.ready_now, counts.waiting_for_hours) == (1, 1)
    assert claim_next_task(queue.caller, now=NOW, lease_seconds=LEASE).contact.phone == "+12125550101"
    db.session.commit()
    db.session.execute(
        update(CallTask).values(status=TaskStatus.DONE).where(CallTask.status == TaskStatus.LEASED)
    )
    db.session.commit()
    assert claim_next_task(queue.caller, now=NOW, lease_seconds=LEASE) is None


def test_unknown_time_zones_are_stuck_until_a_person_sets_one(make_queue):
    queue = make_queue(1, phones=["+15555550123"])
    assert queue_counts(now=NOW).unknown_time_zone == 1
    assert claim_next_task(queue.caller, now=NOW, lease_seconds=LEASE) is None
    queue.contacts[0].timezone = "America/Chicago"
    db.session.commit()
    assert fill_queue(now=NOW)[0].zones_updated == 1
    db.session.commit()
    assert claim_next_task(queue.caller, now=NOW, lease_seconds=LEASE) is not None


def test_only_assigned_callers_of_active_campaigns_get_calls(make_queue, make_user):
    queue = make_queue(1)
    stranger = make_user(Role.CALLER)
    assert claim_next_task(stranger, now=NOW, lease_seconds=LEASE) is None
    queue.campaign.pause(now=NOW)
    db.session.commit()
    assert claim_next_task(queue.caller, now=NOW, lease_seconds=LEASE) is None


def test_survey_then_calls_queues_only_surveys_unanswered_for_the_wait(make_queue, survey_version):
    queue = make_queue(
        2, fill=False, kind=CampaignKind.BOTH, call_after_survey_days=7, survey_version=survey_version
    )
    answered, silent = queue.enrollments
    for enrollment, completed in ((answered, NOW - timedelta(days=2)), (silent, None)):
        invitation = Invitation(
            version_id=survey_version.id,
            contact_id=enrollment.contact_id,
            channel="email",
            nonce="0" * 32,
            token_hash=f"{enrollment.id:064d}",
            sent_at=NOW - timedelta(days=8),
            completed_at=completed,
        )
        enrollment.invitation = invitation
    db.session.commit()
    assert fill_queue(now=NOW - timedelta(days=2))[0].created == 0  # only 6 days so far
    results = fill_queue(now=NOW)
    assert results[0].created == 1
    assert _tasks()[0].enrollment_id == silent.id


def test_tasks_of_ended_enrollments_are_cancelled_when_the_queue_is_filled(make_queue):
    queue = make_queue(2)
    queue.enrollments[0].status = EnrollmentStatus.OPTED_OUT
    db.session.commit()
    assert fill_queue(now=NOW)[0].cancelled == 1
    assert [task.status for task in _tasks()] == [TaskStatus.CANCELLED, TaskStatus.READY]


def _claim_all(app, user_ids: list[int], *, now) -> list[int]:
    claimed: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work(user_id: int) -> None:
        try:
            with app.app_context():
                user = db.session.get(User, user_id)
                while True:
                    task = claim_next_task(user, now=now, lease_seconds=LEASE)
                    if task is None:
                        db.session.commit()
                        break
                    with lock:
                        claimed.append(task.id)
                    task.status = TaskStatus.DONE
                    task.leased_by_id = None
                    db.session.commit()
                db.session.remove()
        except BaseException as error:  # noqa: BLE001 (reported by the test)
            errors.append(error)

    threads = [threading.Thread(target=work, args=(user_id,)) for user_id in user_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return claimed


def test_concurrent_callers_claim_every_task_exactly_once(app, make_queue, make_user):
    postgresql = db.engine.dialect.name == "postgresql"
    threads, size = (20, 2000) if postgresql else (4, 200)
    queue = make_queue(size, phones=[f"+1212{5550000 + n:07d}"[:12] for n in range(size)])
    callers = [queue.caller] + [make_user(Role.CALLER) for _ in range(threads - 1)]
    queue.campaign.callers = callers
    db.session.commit()
    user_ids = [caller.id for caller in callers]
    db.session.remove()
    claimed = _claim_all(app, user_ids, now=NOW)
    assert len(claimed) == size
    assert len(set(claimed)) == size
    assert db.session.scalar(select(func.count()).where(CallTask.status == TaskStatus.DONE)) == size


def test_a_warm_claim_cache_gives_the_same_answers_as_the_database(make_queue, make_user):
    from campaigns.calls.queue import ClaimCache

    queue = make_queue(3, phones=["+12125550101", "+14155550102", "+15555550103"])
    colleague = make_user(Role.CALLER)
    queue.campaign.callers.append(colleague)
    db.session.commit()
    cache = ClaimCache(ttl=60)
    first = claim_next_task(queue.caller, now=NOW, cache=cache)
    db.session.commit()
    second = claim_next_task(colleague, now=NOW + timedelta(seconds=20), cache=cache)
    db.session.commit()
    assert {first.contact.phone, second.contact.phone} == {"+12125550101", "+14155550102"}
    assert claim_next_task(queue.caller, now=NOW, cache=cache).id == first.id  # the one already held
    assert len(cache.scopes) == 1  # one minute, one set of windows: computed once
