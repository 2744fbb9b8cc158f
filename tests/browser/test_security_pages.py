"""The Content-Security-Policy fits the pages; the Users admin works in a real browser."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from app.auth.models import Role, User
from app.extensions import db
from campaigns.models import Campaign
from tests.browser.test_layout import _page_fits_the_screen, _sign_in
from tests.survey_helpers import invite, published_survey


def _csp_errors(page) -> list[str]:
    errors: list[str] = []
    page.on(
        "console",
        lambda message: errors.append(message.text) if "Content Security Policy" in message.text else None,
    )
    return errors


def test_no_page_breaks_the_content_security_policy(
    desktop_page, demo_live_server, own_demo, make_user, make_contact
):
    """Every menu page with the demo data (a copy of it: tests/demo_database.py), then a survey page."""
    live_server = demo_live_server
    admin = make_user(Role.ADMIN)
    errors = _csp_errors(desktop_page)
    _sign_in(desktop_page, live_server, admin.email)
    menu = desktop_page.get_by_role("navigation", name="Main")
    paths = [link.get_attribute("href") for link in menu.get_by_role("link").all()]
    campaign = db.session.scalar(select(Campaign))
    paths += ["/users", f"/users/{admin.id}", "/account/password", f"/campaigns/{campaign.id}/edit"]
    for path in paths:
        desktop_page.goto(f"{live_server}{path}")
        desktop_page.wait_for_load_state("networkidle")
    survey = published_survey(name="CSP check")
    _, token = invite(survey.published, make_contact(first_name="Csp"))
    desktop_page.goto(f"{live_server}/s/{token}")
    desktop_page.get_by_label("Price").check()  # Pico draws the tick with a data: image
    assert errors == []


def test_admin_edits_and_deactivates_a_user_on_a_phone(phone_page, live_server, make_user):
    admin = make_user(Role.ADMIN)
    caller = make_user(Role.CALLER, name="Casey Caller")
    _sign_in(phone_page, live_server, admin.email)
    phone_page.goto(f"{live_server}/users")
    phone_page.get_by_role("link", name="Casey Caller").click()
    expect(phone_page.get_by_role("textbox", name="Name")).to_be_visible()
    phone_page.wait_for_load_state("load")  # measured once its scripts have laid the page out
    assert _page_fits_the_screen(phone_page)
    phone_page.get_by_role("textbox", name="Name").fill("Casey Analyst")
    phone_page.get_by_role("combobox", name="Role").select_option("analyst")
    phone_page.get_by_role("button", name="Save").click()
    expect(phone_page.get_by_text("Casey Analyst is saved (analyst)")).to_be_visible()
    phone_page.get_by_role("button", name="Deactivate Casey Analyst").click()
    expect(phone_page.get_by_text("can no longer sign in")).to_be_visible()
    phone_page.wait_for_load_state("load")  # as above: measured once the new page's scripts have run
    assert _page_fits_the_screen(phone_page)
    db.session.expire_all()
    stored = db.session.get(User, caller.id)
    assert (stored.name, stored.role, stored.active) == ("Casey Analyst", Role.ANALYST, False)
