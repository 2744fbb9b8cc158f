"""The sales manager's review: queue (team, filters, sort), detail, accept / reject / defer, bulk, audit."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.models import Role
from app.db_types import utcnow
from app.extensions import db
from app.pipeline.models import Requalification, RequalificationStatus, SalesTeam
from app.pipeline.service import defer, return_deferred


@pytest.fixture
def manager(make_user):
    return make_user(Role.SALES_MANAGER, name="Sam Manager")


@pytest.fixture
def three(respond, make_opportunity, make_account):
    """Three pending requalifications: Dana's (Central), Eve's (West, highest score), Dana's older."""
    old = respond(
        opportunity=make_opportunity(owner="Dana Owner", account=make_account(name="Oldco")),
        when="later",
        now=utcnow() - timedelta(days=9),
    )
    west = respond(
        opportunity=make_opportunity(
            owner="Eve Owner",
            crm_loss_reason="Too pricey",
            account=make_account(name="Westco", region="West"),
        ),
        rating="1",
        now=utcnow(),
    )
    central = respond(
        opportunity=make_opportunity(owner="Dana Owner", account=make_account(name="Centralco")),
        now=utcnow(),
    )
    return [_req(r) for r in (old, west, central)]


def _req(response) -> Requalification:
    return db.session.scalar(
        select(Requalification).where(Requalification.account_id == response.opportunity.account_id)
    )


def _names(html: str) -> list[str]:
    """The accounts of the queue's own list, in order (not those of the unassigned group above it)."""
    return re.findall(r'<span class="account">(\w+co)</span>', html.split('id="queue-title"')[-1])


def _unassigned(html: str) -> list[str]:
    group = html.split('id="queue-title"')[0].split('id="unassigned-title"')[-1]
    return re.findall(r'<span class="account">(\w+co)</span>', group)


def test_the_queue_defaults_to_the_managers_team_with_all_one_click_away(client, login, manager, three):
    db.session.add(SalesTeam(manager_id=manager.id, owners=["Dana Owner"], regions=[]))
    db.session.commit()
    login(manager)

    mine = client.get("/pipeline/review").get_data(as_text=True)
    assert _names(mine) == ["Oldco", "Centralco"]  # overdue first
    assert _names(client.get("/pipeline/review?sort=score").get_data(as_text=True)) == ["Centralco", "Oldco"]
    assert "Show all teams" in mine
    assert _unassigned(mine) == ["Westco"]  # Eve's deal in the West: no team's

    everyone = client.get("/pipeline/review?team=all&sort=score").get_data(as_text=True)
    assert _names(everyone) == ["Westco", "Centralco", "Oldco"]


def test_the_queue_filters_by_region_and_score_and_sorts_by_age(client, login, manager, three):
    login(manager)
    assert _names(client.get("/pipeline/review?region=West").get_data(as_text=True)) == ["Westco"]
    assert _names(client.get("/pipeline/review?min_score=6").get_data(as_text=True)) == [
        "Westco",
        "Centralco",
    ]
    assert _names(client.get("/pipeline/review?sort=age").get_data(as_text=True))[0] == "Oldco"
    assert _names(client.get("/pipeline/review?min_age_days=7").get_data(as_text=True)) == ["Oldco"]
    bad = client.get("/pipeline/review?min_score=lots")
    assert bad.status_code == 200
    assert "Min score must be a whole number." in bad.get_data(as_text=True)


def test_an_old_pending_requalification_is_shown_overdue(client, login, manager, three):
    login(manager)
    html = client.get("/pipeline/review?sort=age").get_data(as_text=True)
    assert html.count('class="overdue"') == 1  # only the 9-day-old one


def test_the_detail_shows_what_the_customer_said_and_the_crm_loss_reason(client, login, manager, three):
    login(manager)
    html = client.get(f"/pipeline/requalifications/{three[1].id}").get_data(as_text=True)
    assert "We regret it" in html
    assert "Within a month" in html
    assert "Too pricey" in html  # the CRM loss reason of the original deal
    assert "Unhappy with the chosen vendor (rated 1) (+2)" in html


def test_accepting_records_owner_amount_next_step_first_touch_and_an_audit_event(
    client, login, manager, three
):
    login(manager)
    target = three[2]
    response = client.post(
        f"/pipeline/requalifications/{target.id}/accept",
        data={
            "owner": "Eve Owner",
            "expected_amount": "18000",
            "next_step": "Demo of the new plan",
            "next_step_date": "2026-12-15",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert target.status is RequalificationStatus.ACCEPTED
    assert target.owner == "Eve Owner"
    assert target.expected_amount == Decimal("18000.00")
    assert target.next_step_date == date(2026, 12, 15)
    assert target.reviewer_id == manager.id
    assert target.first_touch_due_at > target.decided_at
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "requalification.accepted"))
    assert event.actor_id == manager.id
    assert event.entity_id == target.id
    assert event.details["owner"] == "Eve Owner"


def test_accepting_without_an_owner_says_so(client, login, manager, three):
    login(manager)
    response = client.post(f"/pipeline/requalifications/{three[0].id}/accept", data={"owner": ""})
    assert response.status_code == 422
    assert "Choose the owner." in response.get_data(as_text=True)


def test_rejecting_needs_a_reason_from_the_list_and_text_for_other(client, login, manager, three):
    login(manager)
    url = f"/pipeline/requalifications/{three[0].id}/reject"
    assert client.post(url, data={"reason": "made_up"}).status_code == 422
    other = client.post(url, data={"reason": "other", "text": ""})
    assert "Say why in a few words" in other.get_data(as_text=True)
    assert client.post(url, data={"reason": "no_budget", "text": "Frozen until spring"}).status_code == 302
    db.session.expire_all()
    assert three[0].status is RequalificationStatus.REJECTED
    assert three[0].reject_reason == "no_budget"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "requalification.rejected"))
    assert event.details == {"reason": "no_budget", "text": "Frozen until spring"}


def test_a_decided_requalification_cannot_be_decided_again(client, login, manager, three):
    login(manager)
    url = f"/pipeline/requalifications/{three[0].id}"
    client.post(f"{url}/reject", data={"reason": "no_budget"})
    again = client.post(f"{url}/accept", data={"owner": "Dana Owner"})
    assert again.status_code == 409
    assert f"WB-{three[0].id} was already rejected by Sam Manager" in again.get_data(as_text=True)


def test_a_deferral_comes_back_on_its_day(three, manager):
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    defer(three[0], reviewer=manager, until=date(2026, 11, 30), now=now)
    db.session.commit()
    assert return_deferred(datetime(2026, 11, 29, 23, 0, tzinfo=UTC)) == 0
    assert three[0].status is RequalificationStatus.DEFERRED
    assert return_deferred(datetime(2026, 11, 30, 8, 0, tzinfo=UTC)) == 1
    assert three[0].status is RequalificationStatus.PENDING


def test_a_deferral_must_be_in_the_future(client, login, manager, three):
    login(manager)
    response = client.post(f"/pipeline/requalifications/{three[0].id}/defer", data={"until": "2020-01-01"})
    assert response.status_code == 422
    assert "must be in the future" in response.get_data(as_text=True)


def test_bulk_accept_applies_to_the_ticked_ones_and_reports_those_it_cannot(client, login, manager, three):
    login(manager)
    client.post(f"/pipeline/requalifications/{three[0].id}/reject", data={"reason": "no_budget"})
    response = client.post(
        "/pipeline/review/bulk",
        data={"action": "accept", "owner": "Dana Owner", "ids": [str(r.id) for r in three]},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert (
        f"Accepted 2 requalifications; owners: Dana Owner (WB-{three[1].id}), Dana Owner (WB-{three[2].id})."
        in html
    )
    assert f"Not accepted: WB-{three[0].id}: WB-{three[0].id} was already rejected by Sam Manager" in html
    db.session.expire_all()
    assert [r.status for r in three] == [
        RequalificationStatus.REJECTED,
        RequalificationStatus.ACCEPTED,
        RequalificationStatus.ACCEPTED,
    ]
    assert db.session.scalars(
        select(AuditEvent.entity_id).where(AuditEvent.action == "requalification.accepted")
    ).all() == [three[1].id, three[2].id]


def test_bulk_defer_without_a_date_changes_nothing(client, login, manager, three):
    login(manager)
    response = client.post(
        "/pipeline/review/bulk", data={"action": "defer", "ids": [str(three[0].id)]}, follow_redirects=True
    )
    assert "Say until when to defer it." in response.get_data(as_text=True)
    db.session.expire_all()
    assert three[0].status is RequalificationStatus.PENDING


def test_the_accept_form_needs_its_csrf_token(make_app, make_user, three):
    app = make_app(WTF_CSRF_ENABLED=True)
    manager = make_user(Role.SALES_MANAGER)
    url = f"/pipeline/requalifications/{three[0].id}"
    client = app.test_client()
    login_page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
    client.post(
        "/login", data={"email": manager.email, "password": "correct horse battery", "csrf_token": token}
    )
    assert client.post(f"{url}/accept", data={"owner": "Dana Owner"}).status_code == 400
    page = client.get(url).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert client.post(f"{url}/accept", data={"owner": "Dana Owner", "csrf_token": token}).status_code == 302


def test_callers_and_analysts_cannot_see_the_review(client, login, make_user, three):
    login(make_user(Role.CALLER))
    assert client.get("/pipeline/review").status_code == 403
    assert client.get(f"/pipeline/requalifications/{three[0].id}").status_code == 403


def test_the_queue_filters_by_campaign(
    client, login, manager, respond, make_campaign, make_opportunity, make_account
):
    campaign = make_campaign(name="Spring winback")
    respond(campaign=campaign, opportunity=make_opportunity(account=make_account(name="Springco")))
    respond(opportunity=make_opportunity(account=make_account(name="Otherco")))
    login(manager)
    html = client.get(f"/pipeline/review?campaign_id={campaign.id}").get_data(as_text=True)
    assert _names(html) == ["Springco"]
    assert "Spring winback</option>" in html


def test_the_owners_first_touch_can_be_recorded_once_on_an_accepted_deal(client, login, manager, three):
    """When the CRM does not send the recycled deal back, the manager records the first touch by hand."""
    login(manager)
    target = three[0]
    url = f"/pipeline/requalifications/{target.id}"
    pending = client.post(f"{url}/first-touch")
    assert pending.status_code == 422
    assert "Only an accepted deal has a first touch to record." in pending.get_data(as_text=True)
    client.post(f"{url}/accept", data={"owner": "Dana Owner"})
    page = client.get(url).get_data(as_text=True)
    assert "Record the first touch now" in page
    assert client.post(f"{url}/first-touch").status_code == 302
    db.session.expire_all()
    assert target.first_touch_at is not None
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "requalification.first_touch"))
    assert event.actor_id == manager.id
    assert event.entity_id == target.id
    page = client.get(url).get_data(as_text=True)
    assert "Record the first touch now" not in page
    assert "Done on" in page
    again = client.post(f"{url}/first-touch")
    assert again.status_code == 422
    assert "The first touch was already recorded" in again.get_data(as_text=True)
    assert db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "requalification.first_touch")
    ).all() == [event]


def test_callers_cannot_record_a_first_touch(client, login, make_user, three):
    login(make_user(Role.CALLER))
    assert client.post(f"/pipeline/requalifications/{three[0].id}/first-touch").status_code == 403


def test_the_detail_page_says_when_a_requalification_is_outside_the_managers_team(
    client, login, manager, three
):
    old, west, central = three
    login(manager)
    no_team = client.get(f"/pipeline/requalifications/{west.id}").get_data(as_text=True)
    assert "outside your team" not in no_team  # without a team, everyone's is theirs
    db.session.add(SalesTeam(manager_id=manager.id, owners=["Dana Owner"], regions=["West"]))
    db.session.commit()
    assert "outside your team" not in client.get(f"/pipeline/requalifications/{west.id}").get_data(
        as_text=True
    )
    db.session.get(SalesTeam, manager.id).regions = []
    db.session.commit()
    outside = client.get(f"/pipeline/requalifications/{west.id}").get_data(as_text=True)
    assert "outside your team" in outside
    assert "outside your team" not in client.get(f"/pipeline/requalifications/{central.id}").get_data(
        as_text=True
    )
    # A filter, not a permission: the manager may still decide it.
    decided = client.post(f"/pipeline/requalifications/{west.id}/reject", data={"reason": "no_budget"})
    assert decided.status_code == 302
