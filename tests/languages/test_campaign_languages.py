"""Before activation the campaign names the languages its survey lacks; those contacts get the default."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.auth.models import Role
from app.extensions import db
from app.messaging.models import OutboundMessage
from campaigns.enrollment import enroll_campaign
from campaigns.languages import language_coverage
from campaigns.models import CampaignKind, CampaignStatus
from tests.campaigns.conftest import NOW


@pytest.fixture
def people(make_account, make_contact, make_opportunity):
    """A German, a French and an American customer, each with a lost deal."""
    found = {}
    for key, country, language, email in (
        ("de", "DE", None, "jonas@kunde.example"),
        ("fr", "BE", "fr", "claire@client.example"),  # Belgium's default is Dutch; the CRM says French
        ("en", "US", None, "sam@customer.example"),
    ):
        contact = make_contact(make_account(country=country), language=language, email=email)
        make_opportunity(account=contact.account, primary_contact=contact)
        found[key] = contact
    return found


def test_a_missing_french_translation_is_flagged_and_the_french_contact_gets_english(
    translated, people, make_campaign, make_user, login
):
    version = translated(("de",))  # German only
    campaign = make_campaign(
        kind=CampaignKind.SURVEY, survey_version_id=version.id, status=CampaignStatus.DRAFT
    )
    coverage = language_coverage(campaign, now=NOW)
    assert coverage.by_language == {"de": 1, "fr": 1, "en": 1}
    assert coverage.available == ("en", "de")
    assert [(gap.language, gap.contacts, gap.receives) for gap in coverage.gaps] == [("fr", 1, "en")]

    page = login(make_user(Role.ADMIN)).get(f"/campaigns/{campaign.id}/status?action=activate")
    html = page.get_data(as_text=True)
    assert "Français: no full translation." in html
    assert "1 contact receives the survey and its messages in English instead." in html
    assert f"/surveys/{version.survey_id}/translations/fr" in html
    assert 'data-language-gap="de"' not in html

    campaign.status = CampaignStatus.ACTIVE
    enroll_campaign(campaign, now=NOW)
    db.session.commit()
    sent = {m.recipient: m for m in db.session.scalars(select(OutboundMessage))}
    assert sent["claire@client.example"].meta["language"] == "en"  # as the page said
    assert sent["claire@client.example"].subject.endswith("choose another vendor?")  # the campaign's English
    assert sent["jonas@kunde.example"].meta["language"] == "de"
    assert sent["jonas@kunde.example"].subject.startswith("Zwei Minuten")
    assert sent["sam@customer.example"].meta["language"] == "en"


def test_a_fully_translated_survey_has_no_gap(translated, people, make_campaign):
    version = translated(("de", "fr"))
    campaign = make_campaign(
        kind=CampaignKind.SURVEY, survey_version_id=version.id, status=CampaignStatus.DRAFT
    )
    coverage = language_coverage(campaign, now=NOW)
    assert coverage.gaps == ()
    assert coverage.available == ("en", "de", "fr")
