"""Number health: a number that failed on three separate days is held for thirty, in every campaign;
a wrong number is ended for its contact; a supervisor sees the holds and releases them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.models import Role
from app.extensions import db
from campaigns.calls.dialing import DialLimits, NotDialable, start_call
from campaigns.calls.dispositions import record_disposition
from campaigns.calls.health import HealthRules, active_hold, note_failed_call
from campaigns.calls.models import CallAttempt, CallTask, Disposition, NumberHold, TaskStatus
from campaigns.calls.queue import claim_next_task, fill_queue
from campaigns.models import Enrollment
from tests.calls.conftest import LEASE, NOW

PHONE = "+12125550777"


def _failed(task: CallTask, days_ago: float, disposition=Disposition.NO_ANSWER, status=None) -> None:
    started = NOW - timedelta(days=days_ago)
    db.session.add(
        CallAttempt(
            task_id=task.id,
            campaign_id=task.campaign_id,
            contact_id=task.contact_id,
            phone=task.contact.phone,
            started_at=started,
            disposition=disposition,
            disposed_at=None if disposition is None else started,
            twilio_status=status,
        )
    )
    db.session.flush()


def _all_due() -> None:
    for task in db.session.scalars(select(CallTask).where(CallTask.status == TaskStatus.READY)):
        task.due_at = NOW
    db.session.commit()


def _two_campaigns_one_number(make_queue):
    first = make_queue(1, phones=[PHONE])
    second = make_queue(1, phones=[PHONE], caller=first.caller)  # another contact, another campaign
    return first, second


def test_a_third_failed_day_holds_the_number_and_the_queue_skips_it_in_every_campaign(make_queue):
    first, second = _two_campaigns_one_number(make_queue)
    task = db.session.scalars(select(CallTask).order_by(CallTask.id)).first()
    _failed(task, 2)
    _failed(task, 1, Disposition.BUSY)
    _failed(task, 1.01)  # the same day again: still two days
    _failed(task, 1.02, None, status="failed")  # Twilio's own "failed", never given a disposition
    assert note_failed_call(PHONE, now=NOW, rules=HealthRules()) is None
    db.session.commit()

    claimed = claim_next_task(first.caller, now=NOW, lease_seconds=LEASE)
    assert claimed.contact.phone == PHONE
    record_disposition(claimed, first.caller, Disposition.NO_ANSWER, now=NOW, lease_seconds=LEASE)
    db.session.commit()
    (hold,) = db.session.scalars(select(NumberHold)).all()
    assert (hold.phone, hold.contact_id, hold.held_until) == (PHONE, None, NOW + timedelta(days=30))

    _all_due()
    later = NOW + timedelta(hours=2)
    assert claim_next_task(first.caller, now=later, lease_seconds=LEASE) is None
    assert {t.campaign_id for t in db.session.scalars(select(CallTask))} == {
        first.campaign.id,
        second.campaign.id,
    }

    # Thirty days on, the number is dialled again.
    hold.held_until = later - timedelta(seconds=1)
    db.session.commit()
    assert claim_next_task(first.caller, now=later, lease_seconds=LEASE) is not None


def test_both_figures_are_settings():
    rules = HealthRules.from_config({"CALL_NUMBER_FAILED_DAYS": "2", "CALL_NUMBER_HOLD_DAYS": "7"})
    assert rules == HealthRules(failed_days=2, hold_days=7)
    assert HealthRules.from_config({}) == HealthRules(failed_days=3, hold_days=30)


def test_failures_older_than_the_hold_period_do_not_count(make_queue):
    make_queue(1, phones=[PHONE])
    task = db.session.scalars(select(CallTask)).one()
    for days_ago in (45, 40, 1):
        _failed(task, days_ago)
    assert note_failed_call(PHONE, now=NOW, rules=HealthRules()) is None
    assert note_failed_call(PHONE, now=NOW, rules=HealthRules(failed_days=3, hold_days=50)) is not None


def test_a_held_number_is_not_dialled_even_from_a_lease_taken_before(make_queue):
    queue = make_queue(1, phones=[PHONE])
    task = claim_next_task(queue.caller, now=NOW, lease_seconds=LEASE)
    db.session.add(
        NumberHold(
            phone=PHONE, reason="failed on 3 separate days", held_at=NOW, held_until=NOW + timedelta(days=30)
        )
    )
    db.session.commit()
    with pytest.raises(NotDialable, match="held"):
        start_call(task, queue.caller, now=NOW, limits=DialLimits(), lease_seconds=LEASE)
    assert task.status is TaskStatus.READY
    assert task.due_at == NOW + timedelta(days=30)


def test_a_wrong_number_ends_that_number_for_the_contact_in_every_campaign(make_queue, make_user):
    first = make_queue(1)
    contact = first.contacts[0]
    second = make_queue(0, phones=[], caller=first.caller, fill=False)
    db.session.add(
        Enrollment(campaign=second.campaign, opportunity=first.enrollments[0].opportunity, contact=contact)
    )
    db.session.commit()
    fill_queue(now=NOW)
    db.session.commit()
    same_number = make_queue(1, phones=[contact.phone], caller=make_user(Role.CALLER))  # another person
    task = claim_next_task(first.caller, now=NOW, lease_seconds=LEASE)
    old_number = task.contact.phone
    record_disposition(task, first.caller, Disposition.WRONG_NUMBER, now=NOW, lease_seconds=LEASE)
    db.session.commit()
    hold = active_hold(contact, old_number, now=NOW + timedelta(days=3650))
    assert (hold.contact_id, hold.held_until, hold.reason) == (contact.id, None, "wrong number")

    _all_due()
    later = NOW + timedelta(hours=2)
    assert claim_next_task(first.caller, now=later, lease_seconds=LEASE) is None  # the other campaign too
    # The number is ended for this contact only: someone else on it is still called.
    assert (
        claim_next_task(same_number.caller, now=later, lease_seconds=LEASE).contact_id
        == same_number.contacts[0].id
    )
    # A new number for the contact: they are called again.
    contact.phone = "+12125550999"
    db.session.commit()
    assert claim_next_task(first.caller, now=later, lease_seconds=LEASE).contact_id == contact.id


def test_the_supervisor_sees_held_numbers_and_releases_one(make_queue, make_user, login):
    queue = make_queue(1, phones=[PHONE])
    hold = NumberHold(
        phone=PHONE, reason="failed on 3 separate days", held_at=NOW, held_until=NOW + timedelta(days=3650)
    )
    db.session.add(hold)
    db.session.commit()
    admin = make_user(Role.ADMIN)
    client = login(admin)
    page = client.get("/calls/supervisor").get_data(as_text=True)
    assert f"Release {PHONE}" in page
    assert "failed on 3 separate days" in page
    response = client.post(f"/calls/supervisor/holds/{hold.id}/release", follow_redirects=True)
    assert f"{PHONE} may be called again." in response.get_data(as_text=True)
    db.session.expire_all()
    assert hold.released_by_id == admin.id
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "call.number_released")).one()
    assert event.entity_id == hold.id
    assert claim_next_task(queue.caller, now=NOW, lease_seconds=LEASE) is not None


def test_a_caller_cannot_release_a_hold(make_queue, login):
    queue = make_queue(1, phones=[PHONE])
    hold = NumberHold(
        phone=PHONE, reason="failed on 3 separate days", held_at=NOW, held_until=NOW + timedelta(days=30)
    )
    db.session.add(hold)
    db.session.commit()
    assert login(queue.caller).post(f"/calls/supervisor/holds/{hold.id}/release").status_code == 403
    db.session.expire_all()
    assert hold.released_at is None
