"""What Next never offers: suppressed contacts, contacts outside hours where they really are (after a change
of phone, time zone or address), the last minutes of a window, a contact called a moment ago."""

from __future__ import annotations

import itertools
import json
import re
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select

from app.api.service import create_token
from app.auth.models import Role
from app.crm.contacts import set_whereabouts
from app.crm.importing.records import AccountIn
from app.crm.importing.upsert import Upserter
from app.crm.models import Contact
from app.db_types import utcnow
from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.models import DoNotContactKind
from app.messaging.service import add_do_not_contact
from app.messaging.suppression import callable_by_phone, contact_suppression_reason
from campaigns.calls.dispositions import record_disposition
from campaigns.calls.models import CallTask, Disposition, TaskStatus
from campaigns.calls.queue import CallingMargins, claim_next_task, fill_queue, queue_counts
from campaigns.models import Enrollment
from tests.calls.conftest import LEASE, NOW
from tests.conftest import PASSWORD

LONDON = "+442079460018"
_TOKENS = itertools.count()
# Thursday 19 November 2026, 01:20 UTC: 01:20 in London, 20:20 (Wednesday) in New York.
LONDON_NIGHT = datetime(2026, 11, 19, 1, 20, tzinfo=UTC)


def _claim(queue, now=NOW, **kwargs):
    task = claim_next_task(queue.caller, now=now, lease_seconds=LEASE, **kwargs)
    db.session.commit()
    return task


# ------------------------------------------------------------------------------------------ suppression


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (DoNotContactKind.PHONE, lambda contact: contact.phone),
        (DoNotContactKind.EMAIL, lambda contact: contact.email),
        (DoNotContactKind.DOMAIN, lambda contact: contact.email.split("@")[1]),
    ],
)
def test_a_contact_put_on_the_do_not_contact_list_is_not_offered_by_next(make_queue, kind, value):
    queue = make_queue(1)
    add_do_not_contact(kind, value(queue.contacts[0]), source="admin", now=NOW)
    db.session.commit()
    assert _claim(queue) is None


def test_next_skips_a_listed_number_and_offers_the_next_contact(make_queue):
    queue = make_queue(2, amounts=[90000, 10000])  # the listed one would come first
    add_do_not_contact(DoNotContactKind.PHONE, queue.contacts[0].phone, source="admin", now=NOW)
    db.session.commit()
    task = _claim(queue)
    assert task.contact_id == queue.contacts[1].id


@pytest.mark.parametrize("field", ["call_opt_out_at", "erased_at"])
def test_an_opted_out_or_erased_contact_is_not_offered_even_if_its_task_is_still_open(make_queue, field):
    queue = make_queue(1)
    setattr(queue.contacts[0], field, NOW)  # written without the signal that cancels the tasks
    db.session.commit()
    assert _claim(queue) is None


def test_the_claims_suppression_rule_is_the_send_time_rule(make_queue):
    queue = make_queue(7)
    first, second, third, fourth, fifth, sixth, _ = queue.contacts
    first.call_opt_out_at = NOW
    second.erased_at = NOW
    third.phone = None
    fifth.email = None
    add_do_not_contact(DoNotContactKind.PHONE, fourth.phone, source="admin", now=NOW)
    add_do_not_contact(DoNotContactKind.DOMAIN, "listed.example", source="admin", now=NOW)
    sixth.email = "pat@listed.example"
    db.session.commit()
    postgresql = db.engine.dialect.name == "postgresql"
    for contact in queue.contacts:
        in_sql = db.session.scalar(select(callable_by_phone(contact.id, postgresql=postgresql)))
        assert in_sql is (contact_suppression_reason(contact, Channel.CALL) is None), contact


# --------------------------------------------------------------------------- zones follow the contact


def _api_item(queue, contact: Contact, **person) -> dict:
    enrollment = db.session.scalar(select(Enrollment).where(Enrollment.contact_id == contact.id))
    opportunity = enrollment.opportunity
    return {
        "crm_source": "salesforce",
        "crm_id": opportunity.crm_id,
        "name": opportunity.name,
        "stage": "Closed Lost",
        "account": {"crm_id": contact.account.crm_id, "name": contact.account.name},
        "contacts": [{"email": contact.email, **person}],
    }


def _push(client, items) -> dict:
    _, secret = create_token(f"crm-push-{next(_TOKENS)}", now=utcnow())
    db.session.commit()
    response = client.post("/api/v1/opportunities", json=items, headers={"Authorization": f"Bearer {secret}"})
    db.session.expire_all()
    return response.get_json()


def test_after_a_crm_push_moves_the_phone_to_london_next_does_not_call_at_0120_london_time(
    make_queue, client
):
    queue = make_queue(1, calling_window_end=time(21, 0))
    assert queue_counts(now=LONDON_NIGHT).ready_now == 1  # 20:20 in New York: callable
    result = _push(client, [_api_item(queue, queue.contacts[0], phone=LONDON)])
    assert result["items"][0]["status"] == "updated"
    assert queue.contacts[0].phone == LONDON
    assert _claim(queue, now=LONDON_NIGHT) is None
    assert queue_counts(now=LONDON_NIGHT).waiting_for_hours == 1


def test_the_push_api_sets_a_contacts_time_zone_and_address_and_refuses_an_unknown_zone(make_queue, client):
    queue = make_queue(1)
    contact = queue.contacts[0]
    bad = _push(client, [_api_item(queue, contact, timezone="Mars/Olympus_Mons")])
    assert bad["items"][0]["status"] == "failed"
    assert bad["items"][0]["error"]["field"] == "contacts[0].timezone"
    assert "not a time zone" in bad["items"][0]["error"]["message"]
    good = _push(client, [_api_item(queue, contact, timezone="pacific/honolulu", state="HI", country="us")])
    assert good["items"][0]["status"] == "updated"
    assert (contact.timezone, contact.state, contact.country) == ("Pacific/Honolulu", "HI", "US")
    # Noon in New York is 07:00 in Honolulu: not before 9:00 there.
    assert _claim(queue) is None


def test_after_the_time_zone_is_changed_on_the_contact_page_next_does_not_call_at_2244_there(
    make_queue, make_app, make_user
):
    queue = make_queue(1)
    later = NOW + timedelta(minutes=44)  # 12:44 in New York, 22:44 in Karachi
    assert queue_counts(now=later).ready_now == 1
    app = make_app(WTF_CSRF_ENABLED=True)
    admin = make_user(Role.ADMIN)
    client = app.test_client()
    contact = queue.contacts[0]
    _sign_in(client, admin)
    page = client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert "America/New_York" in page
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    refused = client.post(
        f"/contacts/{contact.id}", data={"timezone": "Asia/Karachi", "state": "", "country": ""}
    )
    assert refused.status_code == 400  # no CSRF token
    saved = client.post(
        f"/contacts/{contact.id}",
        data={"timezone": "Asia/Karachi", "state": "", "country": "", "csrf_token": token},
        follow_redirects=True,
    )
    assert "Asia/Karachi" in saved.get_data(as_text=True)
    db.session.expire_all()
    assert contact.timezone == "Asia/Karachi"
    assert _claim(queue, now=later) is None


def _sign_in(client, user) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302


def test_the_contact_page_says_which_field_is_wrong(make_queue, make_user, login):
    queue = make_queue(1)
    client = login(make_user(Role.CALLER))
    response = client.post(
        f"/contacts/{queue.contacts[0].id}", data={"timezone": "Nowhere/Town", "state": "", "country": "U1"}
    )
    assert response.status_code == 422
    assert "is not a time zone" in response.get_data(as_text=True)
    db.session.expire_all()
    assert queue.contacts[0].timezone is None


# ------------------------------------------------------------------------- toll-free and safe time


def test_a_toll_free_number_is_called_in_its_accounts_country_hours(make_queue):
    # Before: the 42 zones of the North American plan (Guam to Newfoundland), never all in hours.
    queue = make_queue(1, phones=["+18005550100"])  # the account is in the US
    afternoon = NOW + timedelta(hours=4)  # 16:00 in New York, 11:00 in Honolulu and Adak
    assert _claim(queue, now=afternoon) is not None


def test_a_toll_free_number_without_any_country_waits_for_a_person(make_queue):
    queue = make_queue(1, phones=["+18885550123"], fill=False)
    queue.contacts[0].account.country = None
    db.session.commit()
    fill_queue(now=NOW)
    assert queue_counts(now=NOW).unknown_time_zone == 1


def test_a_new_york_mobile_owned_in_hawaii_is_called_only_when_it_suits_both(make_queue):
    queue = make_queue(1)
    contact = queue.contacts[0]
    set_whereabouts(contact, timezone="", state="Hawaii", country="US", actor=None, now=NOW)
    db.session.commit()
    assert _claim(queue, now=NOW) is None  # 12:00 in New York, 07:00 in Honolulu
    assert _claim(queue, now=NOW + timedelta(hours=4)) is not None  # 16:00 and 11:00


# ------------------------------------------------------------------------------------------- margins


def test_no_claim_in_the_last_minutes_of_the_window(make_queue):
    queue = make_queue(1)  # 9:00-17:00 in New York
    closing = datetime(2026, 11, 18, 21, 56, tzinfo=UTC)  # 16:56 there
    assert _claim(queue, now=closing) is None
    assert queue_counts(now=closing).ready_now == 0
    assert _claim(queue, now=closing, margins=CallingMargins(timedelta(0), timedelta(0))) is not None


def test_a_claim_just_before_the_margin_is_offered(make_queue):
    queue = make_queue(1)
    assert _claim(queue, now=datetime(2026, 11, 18, 21, 54, 59, tzinfo=UTC)) is not None


def test_a_contact_is_not_called_again_within_the_spacing_even_with_no_cool_down(make_queue):
    queue = make_queue(1, call_retry_hours={"no_answer": 0})
    task = _claim(queue)
    record_disposition(task, queue.caller, Disposition.NO_ANSWER, now=NOW, lease_seconds=LEASE)
    db.session.commit()
    assert task.status is TaskStatus.READY
    assert task.due_at == NOW
    assert _claim(queue, now=NOW + timedelta(minutes=10)) is None
    assert _claim(queue, now=NOW + timedelta(minutes=61)) is not None


def test_the_spacing_holds_across_campaigns(make_queue, make_user):
    first = make_queue(1)
    contact = first.contacts[0]
    second = make_queue(1, caller=make_user(Role.CALLER))
    enrollment = second.enrollments[0]
    enrollment.contact = contact  # the same person, lost on another deal, in another campaign
    db.session.commit()
    db.session.execute(
        CallTask.__table__.update()
        .where(CallTask.enrollment_id == enrollment.id)
        .values(contact_id=contact.id)
    )
    db.session.commit()
    task = _claim(first)
    record_disposition(task, first.caller, Disposition.NOT_INTERESTED, now=NOW, lease_seconds=LEASE)
    db.session.commit()
    assert _claim(second, now=NOW + timedelta(minutes=30)) is None
    assert _claim(second, now=NOW + timedelta(minutes=61)).contact_id == contact.id


def test_a_callback_the_contact_asked_for_is_not_held_back_by_the_spacing(make_queue):
    queue = make_queue(1)
    task = _claim(queue)
    when = NOW + timedelta(minutes=15)
    record_disposition(
        task,
        queue.caller,
        Disposition.CALLBACK,
        now=NOW,
        lease_seconds=LEASE,
        callback_at=when,
        callback_for_me=True,
    )
    db.session.commit()
    assert _claim(queue, now=when) is not None


# ------------------------------------------------------------------------------------ file imports

IMPORT_HEADER = ["Opportunity ID", "Opportunity Name", "Account ID", "Account Name", "Stage", "Close Date"]
IMPORT_HEADER += ["Email", "Phone", "Time Zone", "Mailing State/Province", "Mailing Country"]


def _import(runner, tmp_path, queue, *, phone="", zone="", state="", country="") -> dict:
    contact = queue.contacts[0]
    opportunity = queue.enrollments[0].opportunity
    row = [opportunity.crm_id, opportunity.name, contact.account.crm_id, contact.account.name, "Closed Lost"]
    row += ["2026-10-01", contact.email, phone, zone, state, country]
    path = tmp_path / "export.csv"
    path.write_text(",".join(IMPORT_HEADER) + "\r\n" + ",".join(row) + "\r\n", encoding="utf-8")
    result = runner.invoke(args=["crm", "import", str(path), "--format", "salesforce", "--json"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    return json.loads(result.output.strip().splitlines()[-1])


def test_after_an_import_moves_the_phone_to_london_next_does_not_call_at_0120_london_time(
    make_queue, runner, tmp_path
):
    queue = make_queue(1, calling_window_end=time(21, 0))
    assert queue_counts(now=LONDON_NIGHT).ready_now == 1
    assert _import(runner, tmp_path, queue, phone=LONDON)["updated"] == 1
    assert queue.contacts[0].phone == LONDON
    assert _claim(queue, now=LONDON_NIGHT) is None


def test_an_import_column_sets_the_time_zone_and_address_and_a_bad_zone_is_a_warning(
    make_queue, runner, tmp_path
):
    queue = make_queue(1)
    contact = queue.contacts[0]
    warned = _import(runner, tmp_path, queue, zone="Atlantis/Deep", state="NY")
    assert (warned["updated"], warned["failed"], warned["warnings"]) == (1, 0, 1)
    assert (contact.timezone, contact.state) == (None, "NY")
    later = NOW + timedelta(minutes=44)  # 12:44 in New York, 22:44 in Karachi
    assert _import(runner, tmp_path, queue, zone="Asia/Karachi", state="NY", country="US")["updated"] == 1
    assert (contact.timezone, contact.state, contact.country) == ("Asia/Karachi", "NY", "US")
    assert _claim(queue, now=later) is None


def test_an_account_import_that_changes_the_country_moves_its_toll_free_contacts(make_queue):
    queue = make_queue(1, phones=["+18005550100"])
    account = queue.contacts[0].account
    afternoon = NOW + timedelta(hours=4)  # 21:00 in London, 16:00 in New York
    assert queue_counts(now=afternoon).ready_now == 1
    upserter = Upserter(account.crm_source, now=NOW, actor_label="test", batch_id=None)
    assert upserter.upsert_accounts([AccountIn(crm_id=account.crm_id, name=account.name, country="GB")]) == [
        "updated"
    ]
    db.session.commit()
    assert _claim(queue, now=afternoon) is None
    assert _claim(queue, now=NOW + timedelta(hours=21)) is not None  # 14:00 in London the next day
