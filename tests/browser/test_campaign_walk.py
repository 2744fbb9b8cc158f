"""An admin imports lost deals, builds a campaign and activates it, at 1280 and 375 px; axe on every page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.auth.models import Role
from app.codebook.service import ensure_default_codebook
from app.db_types import utcnow
from app.extensions import db
from app.organisation.service import update_organisation
from campaigns.models import Campaign, CampaignKind, CampaignStatus
from surveys.builder import publish
from surveys.library import WIN_LOSS, create_from_template
from tests.browser.axe_rules import WCAG_21_AA
from tests.browser.test_import_pages import GOOD_ROWS, HEADER, _sign_in, _write_csv


@pytest.fixture
def published_survey():
    # Email campaigns start once the organisation has a postal address; new ones are signed by its name.
    update_organisation(
        name="Acme Analytics", brand_colour="", postal_address="1 Market St, San Francisco", now=utcnow()
    )
    ensure_default_codebook()
    survey = create_from_template(WIN_LOSS, now=utcnow(), name="Win/loss")
    version = publish(survey.versions[0], now=utcnow())
    db.session.commit()
    return version


class Walk:
    """The pages one walk opened, each checked with axe (and, on a phone, for sideways scrolling)."""

    def __init__(self, page: Page, width: int) -> None:
        self.page = page
        self.width = width
        self.axe = Axe()
        self.checked: list[str] = []

    def check(self, label: str) -> None:
        results = self.axe.run(self.page, options=WCAG_21_AA)
        assert results.violations_count == 0, f"{label} at {self.width} px: {results.generate_report()}"
        if self.width < 400:
            scroll = self.page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= self.width + 1, f"{label} is {scroll} px wide on a {self.width} px screen"
        self.checked.append(label)


@pytest.mark.parametrize("width", [1280, 375])
def test_admin_walks_import_campaign_and_activation_with_no_accessibility_violations(
    browser, live_server, make_user, tmp_path: Path, published_survey, width
):
    context = browser.new_context(
        viewport={"width": width, "height": 900 if width > 400 else 812},
        is_mobile=width < 400,
        has_touch=width < 400,
    )
    page = context.new_page()
    walk = Walk(page, width)
    admin = make_user(Role.ADMIN)
    _sign_in(page, live_server, admin.email)

    # Import: upload, preview, import.
    export = _write_csv(tmp_path / "lost-deals.csv", HEADER, GOOD_ROWS)
    page.goto(f"{live_server}/imports/new")
    walk.check("upload")
    page.get_by_label("Export file").set_input_files(str(export))
    page.get_by_role("button", name="Upload and preview").click()
    page.wait_for_url(re.compile(r"/imports/\d+/preview$"))
    walk.check("import preview")
    page.get_by_role("button", name="Import", exact=True).click()
    page.wait_for_url(re.compile(r"/imports/\d+\?draft=\d+$"))
    expect(page.get_by_role("status").filter(has_text="Done.")).to_be_visible()
    walk.check("import result")

    # A new campaign: a mistake first, then the error summary, focused, links to the field.
    page.goto(f"{live_server}/campaigns")
    walk.check("campaigns")
    page.get_by_role("button", name="New campaign").click()
    page.wait_for_url(f"{live_server}/campaigns/new")
    walk.check("new campaign")
    page.get_by_label("Kind").select_option(label="Survey")
    page.get_by_label("Survey", exact=True).select_option(label="Win/loss (version 1)")
    page.get_by_role("button", name="Create draft").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    box = summary.bounding_box()
    assert 0 <= box["y"] < page.viewport_size["height"] - 100, "the error summary is not in view"
    first_in_main = page.evaluate("document.querySelector('main h1').previousElementSibling.id")
    assert first_in_main == "error-summary", "the error summary is not above the page's heading"
    walk.check("new campaign with errors")
    summary.get_by_role("link", name=re.compile("^Name:")).click()
    expect(page.get_by_label("Name", exact=True)).to_be_focused()

    # Fill it in: full values in checkbox lists; the message preview follows the typing.
    page.get_by_label("Name", exact=True).fill("Lost to Globex")
    globex = page.get_by_role("checkbox", name="Globex", exact=True)
    globex.check()
    expect(page.get_by_role("checkbox", name="Lost to Competitor", exact=True)).to_be_visible()
    page.get_by_label("Invitation subject").fill("{{ first_name }}, one question about {{ company }}")
    preview = page.locator("#template-preview")
    expect(preview).to_contain_text(re.compile(r"(Ada|Peter), one question about (Acme Corp|Initech)"))
    walk.check("campaign form filled in")
    page.get_by_role("button", name="Create draft").click()
    page.wait_for_url(re.compile(r"/campaigns/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Lost to Globex")
    rules = page.locator("dl.facts")
    expect(rules).to_contain_text("Globex")
    walk.check("campaign detail (draft)")

    # Activation asks first and says who is contacted in the next hour, and how.
    page.get_by_role("button", name="Activate…").click()
    page.wait_for_url(re.compile(r"/status\?action=activate$"))
    expect(page.locator("[data-forecast=contacted]")).to_have_text("2")
    expect(page.get_by_text("2 by email")).to_be_visible()
    walk.check("activation confirmation")
    campaign = db.session.scalars(select(Campaign)).one()
    assert campaign.status is CampaignStatus.DRAFT
    page.get_by_role("button", name="Yes, activate the campaign").click()
    page.wait_for_url(re.compile(r"/campaigns/\d+$"))
    expect(page.get_by_role("status").filter(has_text="is now active")).to_be_visible()
    walk.check("campaign detail (active)")
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).status is CampaignStatus.ACTIVE
    context.close()
    assert len(walk.checked) == 10


def test_a_long_checkbox_list_gets_a_filter_box_and_works_without_javascript_too(
    browser, live_server, make_user, make_account, make_opportunity
):
    regions = ["North America East", "North America West", "EMEA", "APAC", "LATAM", "Nordics", "DACH"]
    for region in regions:
        make_opportunity(account=make_account(region=region))
    admin = make_user(Role.ADMIN)

    for javascript in (True, False):
        context = browser.new_context(viewport={"width": 375, "height": 812}, java_script_enabled=javascript)
        page = context.new_page()
        _sign_in(page, live_server, admin.email)
        page.goto(f"{live_server}/campaigns/new")
        box = page.locator("#regions").get_by_role("searchbox")
        if javascript:
            box.fill("north")
            expect(
                page.locator("#regions").get_by_role("checkbox", name="North America West")
            ).to_be_visible()
            expect(page.locator("#regions").get_by_role("checkbox", name="EMEA")).to_be_hidden()
            box.fill("zzz")
            expect(page.locator("#regions").get_by_text("No option matches the filter.")).to_be_visible()
            box.fill("")
        else:
            expect(box).to_be_hidden()
        for region in regions:  # full values, nothing cut off
            expect(page.locator("#regions").get_by_role("checkbox", name=region, exact=True)).to_be_visible()
        context.close()


def test_activation_is_confirmed_without_javascript(browser, live_server, make_user):
    campaign = Campaign(name="Calls, no JS", kind=CampaignKind.CALL, status=CampaignStatus.DRAFT)
    db.session.add(campaign)
    db.session.commit()
    admin = make_user(Role.ADMIN)
    context = browser.new_context(viewport={"width": 375, "height": 812}, java_script_enabled=False)
    page = context.new_page()
    _sign_in(page, live_server, admin.email)
    page.goto(f"{live_server}/campaigns/{campaign.id}")

    page.get_by_role("button", name="Activate…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Activate Calls, no JS?")
    page.get_by_role("button", name="Yes, activate the campaign").click()

    expect(page.get_by_role("status").filter(has_text="is now active")).to_be_visible()
    context.close()
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).status is CampaignStatus.ACTIVE
