"""Each role's home with the demo data, in a real browser at 1280 and 375 px: its own sections, no page wider
than the screen, no axe violation (WCAG 2.1 AA). The caller still lands on the call queue."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from app.auth.models import Role
from tests.browser.test_layout import WCAG_21_AA, _page_fits_the_screen, _sign_in

VIEWPORTS = ({"width": 1280, "height": 900}, {"width": 375, "height": 812})
# What each home shows with the demo data, as headings.
SECTIONS = {
    Role.ADMIN: ("This month against the targets", "Recovery funnel, last 90 days", "Data health"),
    Role.SALES_MANAGER: ("Pending reviews", "lost in the last 90 days", "Revenue won back"),
    Role.CALLER: ("Your queue", "Your numbers today"),
    Role.ANALYST: ("Coding backlog", "Agreement"),
}


@pytest.fixture
def demo_users(own_demo) -> dict[Role, tuple[str, str]]:
    """Each role's demo login (email, password), on a copy of the demo data set (tests/demo_database.py)."""
    logins = {Role(role): login for role, login in own_demo.logins.items()}
    assert set(logins) == set(SECTIONS)
    return logins


def test_each_role_home_shows_its_sections_and_passes_axe_on_both_screens(
    browser, demo_live_server, demo_users
):
    live_server = demo_live_server
    axe = Axe()
    for role, (email, password) in demo_users.items():
        for viewport in VIEWPORTS:
            phone = viewport["width"] < 500
            context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone)
            page = context.new_page()
            _sign_in(page, live_server, email, password)
            if role is Role.CALLER:
                expect(page).to_have_url(f"{live_server}/calls")
                expect(page.get_by_role("heading", name="Your numbers today")).to_be_visible()
                expect(page.locator("#today-calls")).not_to_have_text("0")
                results = axe.run(page, options=WCAG_21_AA)
                assert results.violations_count == 0, f"/calls: {results.generate_report()}"
            page.goto(f"{live_server}/dashboard")
            where = f"{role.value}'s home at {viewport['width']} px"
            for heading in SECTIONS[role]:
                expect(page.get_by_role("heading", name=heading).first).to_be_visible()
            assert _page_fits_the_screen(page), f"{where} is wider than the screen"
            results = axe.run(page, options=WCAG_21_AA)
            assert results.violations_count == 0, f"{where}: {results.generate_report()}"
            context.close()


def test_the_admin_sets_targets_and_the_home_shows_the_pace(browser, demo_live_server, demo_users):
    live_server = demo_live_server
    context = browser.new_context(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True)
    page = context.new_page()
    _sign_in(page, live_server, *demo_users[Role.ADMIN])
    page.goto(f"{live_server}/settings/targets")
    page.get_by_label("Requalified deals delivered to sales, per month").fill("1000")
    page.get_by_label("Response rate (%)").fill("150")
    page.get_by_role("button", name="Save the targets").click()
    expect(page.get_by_text("Enter a percentage between 0 and 100.")).to_be_visible()
    page.get_by_label("Response rate (%)").fill("30")
    page.get_by_role("button", name="Save the targets").click()
    expect(page.get_by_text("Targets saved")).to_be_visible()
    page.goto(f"{live_server}/dashboard")
    expect(page.get_by_role("cell", name="of 1,000, behind pace by")).to_be_visible()
    assert _page_fits_the_screen(page)
    results = Axe().run(page, options=WCAG_21_AA)
    assert results.violations_count == 0, results.generate_report()
    context.close()
