"""An email campaign starts only once the organisation has a postal address; new campaigns start with
lost-deal wording the admin previews (with or without JavaScript)."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from app.auth.models import Role
from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.merge import render_merge
from app.organisation.service import update_organisation
from campaigns.models import Campaign, CampaignKind, CampaignStatus
from campaigns.service import ActivationBlocked, change_status
from campaigns.wording import SMS_SEGMENT_GSM, default_wording, sms_segments
from surveys.invitations import create_invitation, invitation_link, merge_fields

from .conftest import NOW
from .test_views import FORM


@pytest.fixture
def admin_client(make_user, login):
    return login(make_user(Role.ADMIN))


@pytest.fixture
def no_address():
    update_organisation(name="Acme Analytics", brand_colour="", postal_address="", now=NOW)
    db.session.commit()


def test_an_email_campaign_without_postal_address_is_refused_naming_it_and_linking_to_the_fix(
    admin_client, make_campaign, version, no_address
):
    campaign = make_campaign(
        kind=CampaignKind.SURVEY, survey_version_id=version.id, status=CampaignStatus.DRAFT
    )

    asked = admin_client.get(f"/campaigns/{campaign.id}/status?action=activate")
    forced = admin_client.post(
        f"/campaigns/{campaign.id}/status", data={"action": "activate", "confirmed": "yes"}
    )

    for response in (asked, forced):
        page = html.unescape(response.get_data(as_text=True))
        assert "<li data-missing>The organisation's postal address</li>" in page
        assert '<a href="/settings/organisation">Add it in the organisation settings</a>' in page
        assert "Yes, activate the campaign" not in page
    assert forced.status_code == 422
    db.session.expire_all()
    assert campaign.status is CampaignStatus.DRAFT
    with pytest.raises(ActivationBlocked, match="postal address"):
        change_status(campaign, "activate", now=NOW)


def test_once_the_address_is_set_the_campaign_starts(admin_client, make_campaign, version, no_address):
    campaign = make_campaign(
        kind=CampaignKind.SURVEY, survey_version_id=version.id, status=CampaignStatus.DRAFT
    )
    update_organisation(name="Acme Analytics", brand_colour="", postal_address="1 Market St", now=NOW)
    db.session.commit()

    response = admin_client.post(
        f"/campaigns/{campaign.id}/status", data={"action": "activate", "confirmed": "yes"}
    )

    assert response.status_code == 302
    db.session.expire_all()
    assert campaign.status is CampaignStatus.ACTIVE


def test_a_call_or_sms_campaign_needs_no_postal_address(make_campaign, version, no_address):
    calls = make_campaign(kind=CampaignKind.CALL, status=CampaignStatus.DRAFT)
    texts = make_campaign(
        kind=CampaignKind.SURVEY,
        survey_channel=Channel.SMS,
        survey_version_id=version.id,
        status=CampaignStatus.DRAFT,
    )
    assert change_status(calls, "activate", now=NOW) is CampaignStatus.ACTIVE
    assert change_status(texts, "activate", now=NOW) is CampaignStatus.ACTIVE


def test_a_new_campaign_starts_with_lost_deal_wording_signed_by_the_organisation(admin_client, organisation):
    page = html.unescape(admin_client.get("/campaigns/new").get_data(as_text=True))
    wording = default_wording()
    assert set(wording) == {
        "email_subject",
        "email_text",
        "email_html",
        "reminder_subject",
        "reminder_text",
        "reminder_html",
        "sms_text",
    }
    for text in (
        wording["email_subject"],
        wording["email_text"],
        wording["reminder_text"],
        wording["sms_text"],
    ):
        assert text in page
    assert re.search(r'<input[^>]*name="from_name"[^>]*value="Acme Analytics"', page)
    assert "You chose another solution" in wording["email_text"]
    assert "{{ survey_link }}" in wording["sms_text"]


def test_the_default_sms_fits_one_segment_with_a_real_link_and_long_names(make_contact, version):
    contact = make_contact(first_name="Maximilian", account=None)
    contact.account.name = "Hoffmann Logistik GmbH"
    invitation = create_invitation(version, contact, channel=Channel.SMS, now=NOW)
    fields = merge_fields(invitation, sender="Morgan at Northbeam")
    text = render_merge(default_wording()["sms_text"], fields)

    assert invitation_link(invitation) in text
    assert len(text) <= SMS_SEGMENT_GSM
    assert sms_segments(text) == 1
    assert "STOP" in text


def test_the_preview_button_renders_the_messages_without_saving(
    admin_client, make_contact, make_opportunity, organisation
):
    contact = make_contact(first_name="Jordan")
    make_opportunity(account=contact.account, primary_contact=contact)

    response = admin_client.post(
        "/campaigns/new",
        data={**FORM, "email_text": "Hi {{ first_name }}, from {{ sender }}", "preview_only": "1"},
    )

    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200
    assert "Hi Jordan, from Morgan at Winback" in page
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_a_long_sms_is_shown_with_its_segment_count(admin_client, make_contact, make_opportunity):
    contact = make_contact(first_name="Jordan")
    make_opportunity(account=contact.account, primary_contact=contact)

    response = admin_client.post(
        "/campaigns/new", data={**FORM, "sms_text": "x" * 200 + " {{ survey_link }}", "preview_only": "1"}
    )

    assert 'data-sms-segments="2"' in response.get_data(as_text=True)
    assert sms_segments("é" * 160) == 1  # é is in the GSM-7 alphabet
    assert sms_segments("ł" * 71) == 2  # UCS-2 when a character needs it
