"""A euro deal reads in euros in the browser (issue #18): a sales manager opens an accepted EUR
requalification and finds "€" on its detail page and on Accepted and recycled, never "$" for it, at 1280
and 375 px; axe finds no WCAG 2.1 AA violation on either page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect
from sqlalchemy import select

from app.auth.models import Role
from app.db_types import utcnow
from app.extensions import db
from app.pipeline.models import Requalification
from tests.browser.axe_rules import WCAG_21_AA
from tests.browser.test_import_pages import _sign_in
from tests.pipeline.conftest import respond, survey  # noqa: F401 (fixtures)


@pytest.mark.parametrize("viewport", ["desktop_page", "phone_page"])
def test_an_accepted_euro_requalification_shows_euros_on_its_detail_and_recycled_pages(
    request,
    viewport,
    live_server,
    make_user,
    make_account,
    make_opportunity,
    respond,  # noqa: F811
):
    opportunity = make_opportunity(
        owner="Dana Owner", amount=Decimal(5000), currency="EUR", account=make_account(name="Eurco")
    )
    respond(opportunity=opportunity, now=utcnow())
    requalification = db.session.scalar(
        select(Requalification).where(Requalification.opportunity_id == opportunity.id)
    )
    manager = make_user(Role.SALES_MANAGER)
    requalification.accept(reviewer=manager, now=utcnow())
    requalification.owner = "Dana Owner"
    requalification.expected_amount = Decimal(5500)
    db.session.commit()
    page = request.getfixturevalue(viewport)
    axe = Axe()
    _sign_in(page, live_server, manager.email)

    page.goto(f"{live_server}/pipeline/requalifications/{requalification.id}")
    expect(page.get_by_text("€5,500").first).to_be_visible()
    assert "$5,500" not in page.content()
    results = axe.run(page, options=WCAG_21_AA)
    assert results.violations_count == 0, f"detail: {results.generate_report()}"

    page.goto(f"{live_server}/pipeline/recycled")
    expect(page.get_by_role("heading", name="Accepted and recycled deals")).to_be_visible()
    expect(page.get_by_text("€5,500").first).to_be_visible()
    assert "$5,500" not in page.content()
    results = axe.run(page, options=WCAG_21_AA)
    assert results.violations_count == 0, f"recycled: {results.generate_report()}"
