"""Each report at 1280 and 375 px: change a filter, drill down from a bar, download a CSV; axe on each."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from app.auth.models import Role
from tests.browser.test_campaign_walk import Walk
from tests.browser.test_import_pages import _sign_in
from tests.coding.conftest import respond, survey  # noqa: F401 (fixtures)
from tests.reports.test_competitors import lost_to_competitors  # noqa: F401 (fixtures)
from tests.reports.test_loss_reasons import deals  # noqa: F401 (the hand-made lost deals)
from tests.reports.test_recovery_funnel import recovery  # noqa: F401
from tests.reports.test_sales_follow_up import decisions  # noqa: F401

ARGS = "from=2026-08-01&to=2026-10-31"


@pytest.mark.parametrize("width", [1280, 375])
def test_an_admin_reads_every_report(browser, live_server, make_user, deals, width):  # noqa: F811
    context = browser.new_context(
        viewport={"width": width, "height": 900 if width > 400 else 812},
        is_mobile=width < 400,
        has_touch=width < 400,
        accept_downloads=True,
    )
    page = context.new_page()
    walk = Walk(page, width)
    _sign_in(page, live_server, make_user(Role.ADMIN).email)

    page.goto(f"{live_server}/reports")
    walk.check("reports index")
    page.goto(f"{live_server}/reports/loss-reasons?{ARGS}")
    walk.check("loss reasons")
    page.get_by_label("Sales owner").select_option("Bob")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"owner=Bob"))
    expect(page.get_by_role("region", name="Table: Loss reasons", exact=True)).to_contain_text(
        "Other priorities"
    )
    walk.check("loss reasons filtered")
    # Themes come first; a theme's bar drills down to the whole theme, its codes one click away.
    page.locator("svg.chart a rect").first.click()
    page.wait_for_url(re.compile(r"/reports/loss-reasons/\d+\?.*theme=1"))
    expect(page.get_by_role("heading", name=re.compile("^Theme: "))).to_be_visible()
    its_codes = page.get_by_role("navigation", name="The theme's reasons").get_by_role("link")
    expect(its_codes.first).to_be_visible()
    walk.check("theme drill-down")
    page.go_back()
    page.wait_for_url(re.compile(r"/reports/loss-reasons\?.*owner=Bob"))
    page.get_by_role("link", name="Every code on its own").click()
    page.wait_for_url(re.compile(r"view=codes"))
    walk.check("loss reasons by code")
    page.locator("svg.chart a rect").first.click()  # the bar itself
    page.wait_for_url(re.compile(r"/reports/loss-reasons/\d+\?.*owner=Bob"))
    expect(page.get_by_text("Budget went elsewhere")).to_be_visible()
    walk.check("drill-down")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download (CSV)").click()
    assert download.value.suggested_filename.endswith(".csv")

    for path, label in (
        ("/reports/sales-vs-customers", "sales vs customers"),
        ("/reports/funnel", "funnel"),
        ("/reports/callers", "callers"),
        ("/settings/currency", "currency"),
    ):
        page.goto(f"{live_server}{path}?{ARGS}")
        walk.check(label)
    page.goto(f"{live_server}/reports/funnel?{ARGS}")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download per campaign (CSV)").click()
    assert download.value.suggested_filename.startswith("funnel_")
    context.close()


@pytest.mark.parametrize("width", [1280, 375])
def test_an_admin_reads_the_funnel_competitors_and_sales_follow_up(
    browser,
    live_server,
    make_user,
    recovery,  # noqa: F811
    lost_to_competitors,  # noqa: F811
    decisions,  # noqa: F811
    width,
):
    context = browser.new_context(
        viewport={"width": width, "height": 900 if width > 400 else 812},
        is_mobile=width < 400,
        has_touch=width < 400,
        accept_downloads=True,
    )
    page = context.new_page()
    walk = Walk(page, width)
    _sign_in(page, live_server, make_user(Role.ADMIN).email)

    page.goto(f"{live_server}/reports")
    expect(page.get_by_role("link", name="Competitors").first).to_be_visible()
    # The recovery funnel: one campaign, then the deals won back.
    page.goto(f"{live_server}/reports/funnel?from=2026-11-01&to=2026-11-30")
    expect(page.get_by_role("region", name="Funnel steps")).to_contain_text("Accepted by sales")
    walk.check("funnel")
    page.get_by_role("combobox", name="Campaign").select_option(label="Spring")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"campaign=\d+"))
    expect(page.get_by_role("region", name="Recovery funnel per campaign")).not_to_contain_text("Calls")
    walk.check("funnel, one campaign")
    page.locator("svg.chart a").filter(has_text="Won").locator("rect").click()
    page.wait_for_url(re.compile(r"/reports/funnel/won\?.*campaign=\d+"))
    expect(page.get_by_role("region", name="Deals at this step")).to_contain_text("€2,000")
    walk.check("funnel drill-down")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download (CSV)").click()
    assert download.value.suggested_filename.startswith("funnel-won_")

    # Competitors: Bob's deals, then Acme's.
    page.goto(f"{live_server}/reports/competitors?from=2026-08-01&to=2026-10-31")
    expect(page.get_by_role("region", name="Competitors")).to_contain_text("Acme")
    walk.check("competitors")
    page.get_by_label("Sales owner").select_option("Bob")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"owner=Bob"))
    walk.check("competitors filtered")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download competitors (CSV)").click()
    assert download.value.suggested_filename.startswith("competitors_")
    page.locator("svg.chart a").filter(has_text="Acme").locator("rect").click()
    page.wait_for_url(re.compile(r"/reports/competitors/\d+\?.*owner=Bob"))
    expect(page.get_by_role("region", name="Deals lost to this competitor")).to_contain_text("Price too high")
    walk.check("competitor drill-down")

    # Sales follow-up: October only.
    page.goto(f"{live_server}/reports/sales-follow-up?from=2026-10-01&to=2026-11-30")
    expect(page.get_by_role("region", name="Decisions per sales manager")).to_contain_text("Sam Manager")
    walk.check("sales follow-up")
    page.get_by_label("To").fill("2026-10-31")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"to=2026-10-31"))
    expect(page.get_by_role("region", name="Decisions per sales manager")).not_to_contain_text("Sam Manager")
    walk.check("sales follow-up, October")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download per manager (CSV)").click()
    assert download.value.suggested_filename.startswith("sales-follow-up_")
    context.close()
