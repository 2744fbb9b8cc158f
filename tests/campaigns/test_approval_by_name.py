"""Approval by name: the people waiting listed and paged, some left out with a reason (audited), the rest
contacted, exactly as many as the confirmation said."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.auth.models import Role
from app.errors import ValidationError
from app.extensions import db
from app.messaging.models import OutboundMessage
from campaigns.approval import decide_waiting, waiting_page
from campaigns.enrollment import enroll_campaign
from campaigns.models import CampaignKind, Enrollment, EnrollmentStatus

from .conftest import NOW


@pytest.fixture
def admin(make_user):
    return make_user(Role.ADMIN, name="Avery Admin")


@pytest.fixture
def waiting_campaign(make_campaign, make_contact, make_opportunity, version):
    """An active survey campaign with 6 people waiting for approval, each with a EUR deal."""
    for n in range(6):
        contact = make_contact(first_name=f"Person{n}", last_name="Lee")
        make_opportunity(
            account=contact.account,
            primary_contact=contact,
            name=f"Deal {n}",
            amount=Decimal("12500.00") + n,
            currency="EUR",
        )
    campaign = make_campaign(kind=CampaignKind.SURVEY, survey_version_id=version.id, requires_approval=True)
    enroll_campaign(campaign, now=NOW)
    db.session.commit()
    return campaign


def _waiting_ids(campaign) -> list[int]:
    return list(
        db.session.scalars(
            select(Enrollment.id)
            .where(Enrollment.campaign_id == campaign.id, Enrollment.status == EnrollmentStatus.PENDING)
            .order_by(Enrollment.id)
        )
    )


def test_two_exclusions_leave_exactly_n_minus_two_contacted_and_are_audited(login, admin, waiting_campaign):
    client = login(admin)
    ids = _waiting_ids(waiting_campaign)
    assert len(ids) == 6
    left_out = ids[1:3]
    form = {"shown": ids, "approve": [i for i in ids if i not in left_out], "reason": "Already in talks"}

    confirm = client.post(f"/campaigns/{waiting_campaign.id}/approval", data=form)

    page = confirm.get_data(as_text=True)
    assert confirm.status_code == 200
    assert '<strong data-contacted="4">4</strong>' in page
    assert '<strong data-left-out="2">2</strong>' in page
    assert "Yes, contact 4 and leave out 2" in page
    assert db.session.scalar(select(func.count()).select_from(OutboundMessage)) == 0  # asked first

    done = client.post(f"/campaigns/{waiting_campaign.id}/approval", data={**form, "confirmed": "yes"})

    assert done.status_code == 302
    db.session.expire_all()
    messages = db.session.scalars(select(OutboundMessage)).all()
    assert len(messages) == 6 - 2
    excluded = db.session.scalars(select(Enrollment).where(Enrollment.id.in_(left_out))).all()
    assert {e.status for e in excluded} == {EnrollmentStatus.EXCLUDED}
    assert {e.exclusion_reason for e in excluded} == {"Already in talks"}
    assert {m.contact_id for m in messages}.isdisjoint({e.contact_id for e in excluded})
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "enrollment.excluded")).all()
    assert sorted(event.entity_id for event in events) == left_out
    assert {event.actor_id for event in events} == {admin.id}
    assert {event.details["reason"] for event in events} == {"Already in talks"}
    flashed = client.get(f"/campaigns/{waiting_campaign.id}/approval").get_data(as_text=True)
    assert "4 approved, 4 contacted; 2 left out." in flashed
    listed = flashed[flashed.index('id="left-out"') :]
    assert listed.count("Already in talks") == 2
    assert "Person1 Lee" in listed


def test_excluded_people_are_not_contacted_on_the_next_enrollment_run(admin, waiting_campaign):
    ids = _waiting_ids(waiting_campaign)
    decide_waiting(
        waiting_campaign, approve_ids=[], exclude_ids=ids[:1], reason="Partner account", actor=admin, now=NOW
    )
    db.session.commit()

    again = enroll_campaign(waiting_campaign, now=NOW)
    db.session.commit()

    assert again.created == 0  # the exclusion holds: the same person is not enrolled again
    assert db.session.get(Enrollment, ids[0]).status is EnrollmentStatus.EXCLUDED
    assert db.session.scalar(select(func.count()).select_from(OutboundMessage)) == 0


def test_leaving_people_out_needs_a_reason(admin, waiting_campaign):
    ids = _waiting_ids(waiting_campaign)
    with pytest.raises(ValidationError, match="Say why"):
        decide_waiting(
            waiting_campaign, approve_ids=ids[1:], exclude_ids=ids[:1], reason=" ", actor=admin, now=NOW
        )
    db.session.rollback()
    assert _waiting_ids(waiting_campaign) == ids


def test_the_approval_page_lists_name_company_deal_amount_and_channel_paged(login, admin, waiting_campaign):
    client = login(admin)

    first = waiting_page(waiting_campaign, page=1, per_page=4)
    second = waiting_page(waiting_campaign, page=2, per_page=4)
    page = client.get(f"/campaigns/{waiting_campaign.id}/approval").get_data(as_text=True)
    none = client.get(f"/campaigns/{waiting_campaign.id}/approval?select=none").get_data(as_text=True)

    assert (first.total, first.pages, len(first.rows), len(second.rows)) == (6, 2, 4, 2)
    assert {row.enrollment_id for row in first.rows}.isdisjoint(row.enrollment_id for row in second.rows)
    assert '<label for="approve-' in page
    assert "Person0 Lee" in page
    assert "Deal 0" in page
    assert "<td>Email</td>" in page
    assert re.search(r'<td class="num">€12,500</td>', page)  # in the deal's own currency
    assert page.count('name="approve"') == 6
    assert page.count("checked") == 6
    assert none.count('name="approve"') == 6
    assert "checked" not in none


def test_a_stale_page_changes_nothing_twice(admin, waiting_campaign):
    ids = _waiting_ids(waiting_campaign)
    decide_waiting(waiting_campaign, approve_ids=ids, exclude_ids=[], reason="", actor=admin, now=NOW)
    db.session.commit()

    again = decide_waiting(
        waiting_campaign, approve_ids=ids[:3], exclude_ids=ids[3:], reason="Oops", actor=admin, now=NOW
    )

    assert (again.approved, again.excluded, again.invited) == (0, 0, 0)
    assert db.session.scalar(select(func.count()).select_from(OutboundMessage)) == 6


def test_callers_cannot_see_or_use_the_approval_page(login, make_user, waiting_campaign):
    client = login(make_user(Role.CALLER))
    ids = _waiting_ids(waiting_campaign)
    assert client.get(f"/campaigns/{waiting_campaign.id}/approval").status_code == 403
    refused = client.post(
        f"/campaigns/{waiting_campaign.id}/approval", data={"shown": ids, "approve": ids, "confirmed": "yes"}
    )
    assert refused.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(OutboundMessage)) == 0


def test_a_person_left_out_by_one_campaign_may_still_be_reached_by_another(
    admin, waiting_campaign, make_campaign, version
):
    ids = _waiting_ids(waiting_campaign)
    decide_waiting(
        waiting_campaign, approve_ids=[], exclude_ids=ids, reason="Not this quarter", actor=admin, now=NOW
    )
    db.session.commit()
    other = make_campaign(kind=CampaignKind.SURVEY, survey_version_id=version.id)

    result = enroll_campaign(other, now=NOW)

    assert result.by_status == {EnrollmentStatus.ACTIVE.value: 6}  # no cool-down: nobody was contacted
