"""Each report at 1280 and 375 px: change a filter, drill down from a bar, download a CSV; axe on each."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from app.auth.models import Role
from tests.browser.test_campaign_walk import Walk
from tests.browser.test_import_pages import _sign_in
from tests.coding.conftest import respond, survey  # noqa: F401 (fixtures)
from tests.reports.test_loss_reasons import deals  # noqa: F401 (the hand-made lost deals)

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
    expect(page.get_by_role("region", name="Loss reasons", exact=True)).to_contain_text("Other priorities")
    walk.check("loss reasons filtered")
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
