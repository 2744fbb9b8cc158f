"""An admin sets the organisation (logo, a refused colour) and reads the publish page, at 375 and 1280 px."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from app.auth.models import Role
from app.extensions import db
from app.organisation.models import Organisation
from app.organisation.service import forget_brand
from campaigns.models import Campaign, CampaignKind, CampaignStatus
from surveys.builder import editable_version, update_texts
from tests.browser.axe_rules import WCAG_21_AA
from tests.browser.test_layout import _page_fits_the_screen, _sign_in
from tests.survey_helpers import NOW, published_survey

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _fresh_brand(app):
    yield
    forget_brand()


def _clean(page, axe, label):
    results = axe.run(page, options=WCAG_21_AA)
    assert results.violations_count == 0, f"{label}: {results.generate_report()}"
    assert _page_fits_the_screen(page), f"{label} is wider than the screen"


@pytest.mark.parametrize("width", [375, 1280])
def test_admin_sets_the_organisation_and_a_light_colour_is_explained(browser, live_server, make_user, width):
    admin = make_user(Role.ADMIN)
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    _sign_in(page, live_server, admin.email)
    axe = Axe()
    page.goto(f"{live_server}/settings/organisation")
    _clean(page, axe, "organisation settings")
    page.get_by_label("Organisation name").fill("Acme Analytics")
    page.get_by_label("Brand colour").fill("#ffcc00")
    page.get_by_label("Postal address").fill("1 Main St\nSpringfield")
    page.get_by_label("Logo").set_input_files({"name": "logo.png", "mimeType": "image/png", "buffer": PNG})
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("has a contrast of 1.5:1 on white").first.wait_for()
    _clean(page, axe, "organisation settings with a refused colour")
    page.get_by_label("Brand colour").fill("#1d4ed8")
    page.get_by_label("Logo").set_input_files({"name": "logo.png", "mimeType": "image/png", "buffer": PNG})
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Organisation settings saved").wait_for()
    _clean(page, axe, "organisation settings saved")
    db.session.expire_all()
    organisation = db.session.get(Organisation, 1)
    assert (organisation.name, organisation.brand_colour, organisation.logo) == (
        "Acme Analytics",
        "#1d4ed8",
        PNG,
    )
    context.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_the_publish_page_names_the_campaigns_it_affects(browser, live_server, make_user, width):
    admin = make_user(Role.ADMIN)
    survey = published_survey()
    db.session.add(
        Campaign(
            name="Spring win-back",
            kind=CampaignKind.SURVEY,
            status=CampaignStatus.ACTIVE,
            survey_version_id=survey.published.id,
            cooldown_days=90,
            max_contacts_per_account=1,
        )
    )
    update_texts(editable_version(survey, now=NOW), title="Take two", introduction="", thank_you="")
    db.session.commit()
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    _sign_in(page, live_server, admin.email)
    page.goto(f"{live_server}/surveys/{survey.id}")
    page.get_by_role("button", name="Publish version 2…").click()
    page.wait_for_url("**/publish")
    page.get_by_role("link", name="Spring win-back").wait_for()
    _clean(page, Axe(), "publish page")
    page.get_by_role("button", name="Publish version 2").click()
    page.get_by_text("New invitations of 1 campaign and the preview use it").wait_for()
    context.close()
