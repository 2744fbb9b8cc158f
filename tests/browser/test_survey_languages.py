"""A German customer answers in German, switches to French; every page is accessible and says its language."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from sqlalchemy import select

from app.auth.models import Role
from app.codebook.service import ensure_default_codebook
from app.extensions import db
from campaigns.models import Campaign, CampaignKind, CampaignStatus
from surveys.builder import publish
from surveys.demo_translations import translate_win_loss
from surveys.library import WIN_LOSS, create_from_template
from surveys.models import Answer
from tests.browser.axe_rules import WCAG_21_AA
from tests.browser.test_layout import _sign_in
from tests.survey_helpers import NOW, invite


@pytest.fixture
def german_link(make_account, make_contact, live_server):
    ensure_default_codebook()
    survey = create_from_template(WIN_LOSS, now=NOW, name="Win/loss in three languages")
    translate_win_loss(survey.versions[0], now=NOW)
    version = publish(survey.versions[0], now=NOW)
    db.session.commit()
    _, token = invite(version, make_contact(make_account(country="DE"), first_name="Jonas"))
    return f"{live_server}/s/{token}", version


def _check(page, axe, language, label):
    assert page.get_attribute("html", "lang") == language, label
    results = axe.run(page, options=WCAG_21_AA)
    assert results.violations_count == 0, f"{label}: {results.generate_report()}"
    fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert fits or page.viewport_size["width"] > 400, f"{label} is wider than the screen"


@pytest.mark.parametrize("width", [375, 1280])
def test_survey_pages_in_german_and_french_are_accessible_and_say_their_language(browser, german_link, width):
    link, version = german_link
    axe = Axe()
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(link)
    assert page.get_by_role("heading", name="Helfen Sie uns, Ihre Entscheidung zu verstehen").is_visible()
    assert page.get_by_text("Seite 1 von etwa 4").is_visible()
    _check(page, axe, "de", "page 1 in German")
    page.get_by_role("button", name="Weiter").click()  # nothing chosen: the required error, in German
    assert page.get_by_role("alert").get_by_text("Diese Frage muss beantwortet werden.").is_visible()
    _check(page, axe, "de", "page 1 with errors in German")
    page.get_by_role("radio", name="Preis").check()
    page.get_by_role("button", name="Weiter").click()
    page.wait_for_url("**page=2")
    _check(page, axe, "de", "page 2 in German")
    page.get_by_role("link", name="Français").click()  # the language switcher adds ?lang=fr
    page.wait_for_url("**lang=fr")
    assert page.get_by_text("Seriez-vous d’accord pour un court échange avec nous plus tard ?").is_visible()
    assert page.get_by_text("Page 2 sur").is_visible()
    _check(page, axe, "fr", "page 2 in French")
    page.get_by_role("radio", name="Non").check()
    page.get_by_role("button", name="Suivant").click()
    page.wait_for_url("**page=4**")
    _check(page, axe, "fr", "page 4 in French")
    page.get_by_role("button", name="Envoyer mes réponses").click()
    page.wait_for_url("**/thanks**")
    assert page.get_by_text("Merci. Vos réponses ont été enregistrées").is_visible()
    _check(page, axe, "fr", "thank-you page in French")
    page.get_by_role("link", name="Deutsch").click()
    assert page.get_by_text("Vielen Dank. Ihre Antworten wurden gespeichert").is_visible()
    _check(page, axe, "de", "thank-you page in German")
    unsubscribe = page.get_by_role("link", name="Von diesen Nachrichten abmelden").get_attribute("href")
    page.goto(link.split("/s/")[0] + urlsplit(unsubscribe).path)  # links name the public address
    assert page.get_by_role("heading", name="Abmelden").is_visible()
    _check(page, axe, "de", "unsubscribe page in German")
    context.close()
    db.session.expire_all()
    choices = db.session.scalars(select(Answer.choices).where(Answer.question_id == version.questions[0].id))
    assert list(choices) == [["price"]]  # the option's key, not the German label


@pytest.mark.parametrize("width", [375, 1280])
def test_an_admin_translates_side_by_side_and_sees_the_gap_before_activation(
    browser, live_server, make_user, make_account, make_contact, make_opportunity, width
):
    ensure_default_codebook()
    survey = create_from_template(WIN_LOSS, now=NOW, name="Win/loss, German only")
    translate_win_loss(survey.versions[0], now=NOW, languages=("de",))
    version = publish(survey.versions[0], now=NOW)
    contact = make_contact(make_account(country="FR"))
    make_opportunity(account=contact.account, primary_contact=contact)
    campaign = Campaign(
        name="Win-back France",
        kind=CampaignKind.SURVEY,
        status=CampaignStatus.DRAFT,
        survey_version_id=version.id,
    )
    db.session.add(campaign)
    db.session.commit()
    admin = make_user(Role.ADMIN)
    axe = Axe()
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    _sign_in(page, live_server, admin.email)
    page.goto(f"{live_server}/campaigns/{campaign.id}/status?action=activate")
    gap = page.locator('[data-language-gap="fr"]')
    assert "1 contact receives the survey and its messages in English instead" in gap.inner_text()
    _check(page, axe, "en", "activation page with a language gap")
    gap.get_by_role("link", name="Translate the survey into Français").click()
    page.get_by_role("heading", name="Français translation").wait_for()
    _check(page, axe, "en", "the French translation page")
    page.get_by_label("Title · Français").fill("Aidez-nous à comprendre votre décision")
    page.get_by_role("button", name="Save the Français texts").click()
    page.get_by_text("texts still to translate").first.wait_for()
    _check(page, axe, "en", "the French translation page, saved")
    context.close()
