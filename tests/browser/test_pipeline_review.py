"""A sales manager reviews requalified deals: accepts one, rejects one, downloads the CRM export; axe finds
no WCAG 2.1 AA violation on the queue, the detail and the recycled pages."""

from __future__ import annotations

import re

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect
from sqlalchemy import select

from app.auth.models import Role
from app.extensions import db
from app.pipeline.models import Requalification, RequalificationStatus
from tests.browser.axe_rules import WCAG_21_AA
from tests.browser.test_import_pages import _sign_in
from tests.pipeline.conftest import respond, survey  # noqa: F401 (fixtures)


def _no_violations(page, axe, where):
    results = axe.run(page, options=WCAG_21_AA)
    assert results.violations_count == 0, f"{where}: {results.generate_report()}"


def test_a_sales_manager_accepts_one_rejects_one_and_downloads_the_export(
    desktop_page,
    live_server,
    make_user,
    make_opportunity,
    respond,  # noqa: F811
    tmp_path,
):
    first = respond(opportunity=make_opportunity(owner="Dana Owner", crm_loss_reason="Price"))
    second = respond(opportunity=make_opportunity(owner="Eve Owner"), when="later")
    manager = make_user(Role.SALES_MANAGER)
    axe = Axe()
    page = desktop_page
    _sign_in(page, live_server, manager.email)
    page.goto(f"{live_server}/pipeline/review")
    expect(page.get_by_role("heading", name="Requalified deals to review")).to_be_visible()
    _no_violations(page, axe, "queue")

    [to_accept, to_reject] = [
        db.session.scalar(
            select(Requalification).where(Requalification.account_id == r.opportunity.account_id)
        )
        for r in (first, second)
    ]
    page.get_by_role("link", name=to_accept.winback_id).click()
    expect(page.get_by_text("We regret it").first).to_be_visible()
    _no_violations(page, axe, "detail")
    page.get_by_label("Owner").select_option("Dana Owner")
    page.get_by_label("Expected amount").fill("15000")
    page.get_by_label("Next step", exact=True).fill("Demo for the new CFO")
    page.get_by_role("button", name="Accept").click()
    expect(page.get_by_text(f"Accepted {to_accept.winback_id} (")).to_contain_text("owner: Dana Owner.")

    page.get_by_role("link", name=to_reject.winback_id).click()
    page.get_by_label("Reason").select_option("no_budget")
    page.get_by_label("Why").fill("Budget frozen until next year")
    page.get_by_role("button", name="Reject").click()
    expect(page.get_by_text(f"Rejected {to_reject.winback_id} (")).to_contain_text("No budget.")
    _no_violations(page, axe, "queue after the decisions")

    page.get_by_role("link", name="Accepted and recycled").first.click()
    expect(page.get_by_role("heading", name="Accepted and recycled deals")).to_be_visible()
    _no_violations(page, axe, "recycled")
    page.get_by_label("CRM format").select_option("salesforce")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download the CRM import file").click()
    path = tmp_path / "export.csv"
    download_info.value.save_as(path)
    text = path.read_bytes().decode("utf-8-sig")
    assert text.startswith("Winback ID,Opportunity Name")
    assert re.search(rf"^{to_accept.winback_id},", text, re.M)
    assert to_reject.winback_id not in text

    db.session.expire_all()
    assert to_accept.status is RequalificationStatus.ACCEPTED
    assert to_accept.exported_at is not None
    assert to_reject.status is RequalificationStatus.REJECTED
