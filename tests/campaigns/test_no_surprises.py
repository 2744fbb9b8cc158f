"""No one is contacted by surprise: approval before contact, confirmation before activation and finish."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.auth.models import Role
from app.crm.models import Competitor
from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.models import OutboundMessage
from app.messaging.service import opt_out_contact
from campaigns.enrollment import activation_forecast, approve_pending, enroll_campaign, pending_count
from campaigns.models import (
    Campaign,
    CampaignKind,
    CampaignStateError,
    CampaignStatus,
    Enrollment,
    EnrollmentStatus,
)
from surveys.models import Invitation

from .conftest import NOW
from .test_views import FORM


@pytest.fixture
def admin_client(make_user, login):
    return login(make_user(Role.ADMIN))


def _deals(make_contact, make_opportunity, count: int, **contact_fields):
    contacts = []
    for _ in range(count):
        contact = make_contact(**contact_fields)
        make_opportunity(account=contact.account, primary_contact=contact)
        contacts.append(contact)
    return contacts


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_new_matches_wait_for_approval_and_nothing_is_sent(
    make_campaign, make_contact, make_opportunity, version
):
    _deals(make_contact, make_opportunity, 2)
    _deals(make_contact, make_opportunity, 1, email=None)
    campaign = make_campaign(kind=CampaignKind.SURVEY, survey_version_id=version.id, requires_approval=True)

    result = enroll_campaign(campaign, now=NOW)
    db.session.commit()

    assert result.created == 3
    assert result.invited == 0
    assert result.by_status == {"pending": 2, "suppressed": 1}
    assert pending_count(campaign.id)[0] == 2
    assert _count(Invitation) == 0
    assert _count(OutboundMessage) == 0
    # Running enrollment again neither duplicates nor sends the waiting ones.
    assert enroll_campaign(campaign, now=NOW + timedelta(minutes=5)).invited == 0
    assert _count(OutboundMessage) == 0


def test_approving_activates_the_waiting_and_queues_their_invitations(
    make_campaign, make_contact, make_opportunity, version
):
    _deals(make_contact, make_opportunity, 2)
    campaign = make_campaign(kind=CampaignKind.SURVEY, survey_version_id=version.id, requires_approval=True)
    enroll_campaign(campaign, now=NOW)

    approval = approve_pending(campaign, now=NOW + timedelta(minutes=1))
    db.session.commit()

    assert (approval.approved, approval.invited) == (2, 2)
    assert pending_count(campaign.id) == (0, None)
    statuses = db.session.scalars(select(Enrollment.status)).all()
    assert statuses == [EnrollmentStatus.ACTIVE, EnrollmentStatus.ACTIVE]
    assert _count(OutboundMessage) == 2
    assert approve_pending(campaign, now=NOW + timedelta(minutes=2)).approved == 0
    assert _count(OutboundMessage) == 2


def test_approval_covers_only_the_matches_the_admin_was_shown(
    admin_client, make_campaign, make_contact, make_opportunity
):
    _deals(make_contact, make_opportunity, 2)
    campaign = make_campaign(requires_approval=True)
    enroll_campaign(campaign, now=NOW)
    db.session.commit()
    page = admin_client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    _deals(make_contact, make_opportunity, 1)  # a new match arrives while the admin reads the page
    enroll_campaign(campaign, now=NOW + timedelta(minutes=5))
    db.session.commit()
    up_to = re.search(r'name="up_to" value="(\d+)"', page).group(1)

    done = admin_client.post(
        f"/campaigns/{campaign.id}/approve", data={"up_to": up_to}, follow_redirects=True
    )

    assert "2 approved" in done.get_data(as_text=True)
    assert pending_count(campaign.id)[0] == 1


def test_a_paused_campaign_cannot_approve(make_campaign, make_contact, make_opportunity):
    _deals(make_contact, make_opportunity, 1)
    campaign = make_campaign(requires_approval=True)
    enroll_campaign(campaign, now=NOW)
    campaign.pause(now=NOW)

    with pytest.raises(CampaignStateError, match="must be active"):
        approve_pending(campaign, now=NOW)
    assert pending_count(campaign.id)[0] == 1


def test_a_waiting_contact_who_opts_out_is_never_approved(
    make_campaign, make_contact, make_opportunity, version
):
    (contact,) = _deals(make_contact, make_opportunity, 1)
    campaign = make_campaign(kind=CampaignKind.SURVEY, survey_version_id=version.id, requires_approval=True)
    enroll_campaign(campaign, now=NOW)
    opt_out_contact(contact, Channel.EMAIL, source="link", now=NOW)

    approval = approve_pending(campaign, now=NOW + timedelta(minutes=1))

    assert approval.approved == 0
    assert db.session.scalars(select(Enrollment.status)).one() is EnrollmentStatus.OPTED_OUT
    assert _count(OutboundMessage) == 0


def test_the_detail_page_shows_the_count_and_approves_in_one_click(
    admin_client, make_campaign, make_contact, make_opportunity, version
):
    _deals(make_contact, make_opportunity, 3)
    campaign = make_campaign(kind=CampaignKind.SURVEY, survey_version_id=version.id, requires_approval=True)
    enroll_campaign(campaign, now=NOW)
    db.session.commit()

    page = admin_client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "<strong>3</strong> people wait for your approval" in page
    assert "Approve 3 and contact them" in page

    done = admin_client.post(f"/campaigns/{campaign.id}/approve", follow_redirects=True)

    assert "3 approved; 3 invitations queued." in done.get_data(as_text=True)
    assert _count(OutboundMessage) == 3


def test_enroll_now_says_how_many_wait_for_approval(
    admin_client, make_campaign, make_contact, make_opportunity
):
    _deals(make_contact, make_opportunity, 2)
    campaign = make_campaign(requires_approval=True)

    page = admin_client.post(f"/campaigns/{campaign.id}/enroll", follow_redirects=True).get_data(as_text=True)

    assert "2 new enrollments (0 suppressed, 2 waiting for your approval)." in page


def test_the_form_stores_the_approval_setting(admin_client):
    admin_client.post("/campaigns/new", data={**FORM, "requires_approval": "y"})
    assert db.session.scalars(select(Campaign.requires_approval)).one() is True


def test_activation_asks_first_with_who_is_contacted_in_the_next_hour_and_how(
    admin_client, make_campaign, make_contact, make_opportunity, version
):
    _deals(make_contact, make_opportunity, 4)
    _deals(make_contact, make_opportunity, 1, email=None)
    campaign = make_campaign(
        kind=CampaignKind.SURVEY, survey_version_id=version.id, status=CampaignStatus.DRAFT
    )
    detail = admin_client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert f'href="/campaigns/{campaign.id}/status?action=activate"' in detail

    page = admin_client.get(f"/campaigns/{campaign.id}/status?action=activate")

    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<strong data-forecast="contacted">4</strong>' in text
    assert "4 by email" in text
    assert "1 match is suppressed" in text
    assert db.session.get(Campaign, campaign.id).status is CampaignStatus.DRAFT


def test_an_unconfirmed_activation_shows_the_confirmation_and_changes_nothing(admin_client, make_campaign):
    campaign = make_campaign(status=CampaignStatus.DRAFT)

    response = admin_client.post(f"/campaigns/{campaign.id}/status", data={"action": "activate"})

    assert response.status_code == 200
    assert "Yes, activate the campaign" in response.get_data(as_text=True)
    assert db.session.get(Campaign, campaign.id).status is CampaignStatus.DRAFT
    confirmed = admin_client.post(
        f"/campaigns/{campaign.id}/status", data={"action": "activate", "confirmed": "yes"}
    )
    assert confirmed.status_code == 302
    assert db.session.get(Campaign, campaign.id).status is CampaignStatus.ACTIVE


def test_with_approval_on_activation_says_nobody_is_contacted(
    admin_client, make_campaign, make_contact, make_opportunity
):
    _deals(make_contact, make_opportunity, 2)
    campaign = make_campaign(status=CampaignStatus.DRAFT, requires_approval=True)

    forecast = activation_forecast(campaign, now=NOW)
    page = admin_client.get(f"/campaigns/{campaign.id}/status?action=activate").get_data(as_text=True)

    assert (forecast.contacted, forecast.pending) == (0, 2)
    assert '<strong data-forecast="contacted">Nobody</strong>' in page
    assert "2 new matches wait for your approval" in page


def test_a_call_campaign_forecasts_calls(make_campaign, make_contact, make_opportunity):
    _deals(make_contact, make_opportunity, 2)
    campaign = make_campaign(kind=CampaignKind.CALL, status=CampaignStatus.PAUSED)

    assert activation_forecast(campaign, now=NOW).by_channel == {"call": 2}


def test_resuming_counts_enrollments_still_to_invite(make_campaign, make_contact, make_opportunity, version):
    _deals(make_contact, make_opportunity, 2)
    campaign = make_campaign(kind=CampaignKind.SURVEY, survey_version_id=version.id, requires_approval=True)
    enroll_campaign(campaign, now=NOW)
    db.session.execute(Enrollment.__table__.update().values(status="active"))
    campaign.requires_approval = False
    campaign.pause(now=NOW)

    assert activation_forecast(campaign, now=NOW).by_channel == {"email": 2}


def test_finishing_asks_first_and_a_finished_campaign_has_no_edit_button(admin_client, make_campaign):
    campaign = make_campaign()
    page = admin_client.get(f"/campaigns/{campaign.id}/status?action=finish").get_data(as_text=True)
    assert "Finishing stops the campaign for good" in page
    assert db.session.get(Campaign, campaign.id).status is CampaignStatus.ACTIVE

    admin_client.post(f"/campaigns/{campaign.id}/status", data={"action": "finish", "confirmed": "yes"})

    detail = admin_client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert db.session.get(Campaign, campaign.id).status is CampaignStatus.FINISHED
    assert f"/campaigns/{campaign.id}/edit" not in detail
    refused = admin_client.get(f"/campaigns/{campaign.id}/edit", follow_redirects=True)
    assert "A finished campaign cannot be edited." in refused.get_data(as_text=True)
    posted = admin_client.post(f"/campaigns/{campaign.id}/edit", data=FORM)
    assert posted.status_code == 302
    assert db.session.get(Campaign, campaign.id).name != FORM["name"]


def test_a_confirmation_for_a_move_not_allowed_says_so(admin_client, make_campaign):
    campaign = make_campaign(status=CampaignStatus.FINISHED)

    page = admin_client.get(f"/campaigns/{campaign.id}/status?action=activate", follow_redirects=True)

    assert "A finished campaign cannot be activated." in page.get_data(as_text=True)
    assert admin_client.get(f"/campaigns/{campaign.id}/status?action=pause").status_code == 404


def test_the_rules_panel_shows_every_targeting_rule_with_competitor_names(admin_client, make_campaign):
    globex = Competitor(name="Globex")
    initech = Competitor(name="Initech")
    db.session.add_all([globex, initech])
    db.session.commit()
    campaign = make_campaign(
        competitor_ids=[initech.id, globex.id],
        loss_reasons=["Price"],
        segments=["Enterprise"],
        regions=["North America"],
        owners=["Dana Scully"],
        requires_approval=True,
    )

    page = admin_client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)

    assert "<dt>Competitors</dt><dd>Initech, Globex</dd>" in page
    for value in ("Price", "Enterprise", "North America", "Dana Scully"):
        assert value in page
    assert "wait for an admin’s approval" in page
