"""A sales manager, at 1280 and at 375 px: sees the unassigned group on top of the queue with its count, takes
a deal from it, sees whom to call, and accepts it with its owner pre-filled; the bulk bar shows only once a
row is ticked; axe finds no WCAG 2.1 AA violation on the queue and the detail."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect
from sqlalchemy import select

from app.auth.models import Role
from app.extensions import db
from app.pipeline.models import Requalification, RequalificationStatus, SalesTeam
from tests.browser.axe_rules import WCAG_21_AA
from tests.browser.test_import_pages import _sign_in
from tests.pipeline.conftest import respond, survey  # noqa: F401 (fixtures)


def _no_violations(page, axe, where):
    results = axe.run(page, options=WCAG_21_AA)
    assert results.violations_count == 0, f"{where}: {results.generate_report()}"


@pytest.mark.parametrize("width", [1280, 375])
def test_a_manager_takes_an_unassigned_deal_sees_whom_to_call_and_accepts_it_for_its_owner(
    width,
    desktop_page,
    phone_page,
    live_server,
    make_user,
    make_opportunity,
    make_account,
    respond,  # noqa: F811
):
    page = desktop_page if width == 1280 else phone_page
    manager = make_user(Role.SALES_MANAGER, name="Sam Manager")
    make_user(Role.SALES_MANAGER, name="Dana Owner", email=f"dana{width}@winback.example")
    db.session.add(SalesTeam(manager_id=manager.id, owners=["Eve Owner"], regions=["West"]))
    mine = respond(opportunity=make_opportunity(owner="Eve Owner", account=make_account(name="Teamco")))
    orphan = respond(
        opportunity=make_opportunity(owner="Dana Owner", account=make_account(name="Orphanco", region=None))
    )
    orphan.contact.first_name, orphan.contact.last_name, orphan.contact.title = "Lena", "Vogel", "CFO"
    db.session.commit()
    [team_deal, lost] = [
        db.session.scalar(
            select(Requalification).where(Requalification.account_id == r.opportunity.account_id)
        )
        for r in (mine, orphan)
    ]
    axe = Axe()
    _sign_in(page, live_server, manager.email)
    page.goto(f"{live_server}/pipeline/review")

    expect(page.get_by_role("heading", name="Unassigned")).to_contain_text("1")
    expect(page.locator(".unassigned")).to_contain_text("Lena Vogel")
    expect(page.locator(".unassigned")).to_contain_text(orphan.contact.phone)
    bulk = page.locator("[data-bulk-bar]")
    expect(bulk).to_be_hidden()
    page.get_by_label(f"Tick {team_deal.winback_id} Teamco").check()
    expect(bulk).to_be_visible()
    expect(bulk).to_contain_text("(1)")
    page.get_by_label(f"Tick {team_deal.winback_id} Teamco").uncheck()
    expect(bulk).to_be_hidden()
    if width == 375:  # cards, not a table wider than the screen
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
    _no_violations(page, axe, f"queue at {width}")

    page.get_by_role("button", name=f"Take {lost.winback_id}").click()
    expect(page.get_by_text(f"You took {lost.winback_id} (Orphanco)")).to_be_visible()
    expect(page.get_by_role("heading", name="Unassigned")).to_contain_text("0")

    page.locator("#queue-title ~ div").get_by_role("link", name=lost.winback_id).click()
    who = page.locator("ul.people").first
    expect(who).to_contain_text("Lena Vogel")
    expect(who.get_by_role("link", name=orphan.contact.phone)).to_be_visible()
    expect(page.get_by_label("Owner")).to_have_value("Dana Owner")
    _no_violations(page, axe, f"detail at {width}")
    page.get_by_role("button", name="Accept").click()
    expect(page.get_by_text(f"Accepted {lost.winback_id} (Orphanco); owner: Dana Owner.")).to_be_visible()
    db.session.expire_all()
    assert lost.status is RequalificationStatus.ACCEPTED
    assert lost.owner == "Dana Owner"


@pytest.mark.parametrize("width", [1280, 375])
def test_an_admin_saves_a_hubspot_token_that_the_page_never_shows_again(
    width, desktop_page, phone_page, live_server, make_user, base_app
):
    from cryptography.fernet import Fernet

    page = desktop_page if width == 1280 else phone_page
    base_app.config["CRM_SECRETS_KEY"] = Fernet.generate_key().decode()
    try:
        admin = make_user(Role.ADMIN)
        _sign_in(page, live_server, admin.email)
        page.goto(f"{live_server}/imports/crm-connection")
        _no_violations(page, Axe(), f"connection page at {width}")
        page.get_by_label("Connect to").select_option("hubspot:token")
        page.get_by_label("HubSpot private-app token").fill("pat-na1-browser-secret")
        page.get_by_role("button", name="Save the login").click()
        expect(page.get_by_text("Saved the HubSpot login; its secrets are stored encrypted.")).to_be_visible()
        expect(page.get_by_text("secrets set: private-app token")).to_be_visible()
        assert "pat-na1-browser-secret" not in page.content()
        _no_violations(page, Axe(), f"connection page after saving at {width}")
    finally:
        base_app.config["CRM_SECRETS_KEY"] = None
