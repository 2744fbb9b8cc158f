"""Staff pages work on a 375 px phone: sign in, navigate, nothing wider than the screen."""

from __future__ import annotations

import pytest

from app.auth.models import Role

PASSWORD = "correct horse battery"


def _sign_in(page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: url in (f"{base_url}/dashboard", f"{base_url}/calls"))


def _page_fits_the_screen(page) -> bool:
    # The viewport's width, not window.innerWidth: on a mobile viewport innerWidth grows with the overflow.
    return page.evaluate(
        "width => document.documentElement.scrollWidth <= width", page.viewport_size["width"]
    )


@pytest.fixture
def crm_data(make_account, make_contact, make_opportunity):
    account = make_account(name="Vandelay Industries International Holdings", segment="Enterprise")
    make_contact(account, first_name="Art", last_name="Vandelay", title="Head of Imports and Exports")
    opportunity = make_opportunity(
        account,
        name="Vandelay Industries – Enterprise Suite renewal with a long name",
        crm_loss_reason="Lost to Competitor",
    )
    return account, opportunity


@pytest.mark.parametrize("role", [Role.ADMIN, Role.CALLER])
def test_every_staff_page_fits_a_375px_phone(role, phone_page, live_server, make_user, crm_data):
    account, opportunity = crm_data
    user = make_user(role)
    _sign_in(phone_page, live_server, user.email)
    home = "Call queue" if role is Role.CALLER else "Hello"  # a caller's home page is their queue
    assert phone_page.get_by_role("heading", level=1).inner_text().startswith(home)
    paths = [
        "/dashboard",
        "/calls",
        "/opportunities",
        "/accounts",
        f"/accounts/{account.id}",
        f"/opportunities/{opportunity.id}",
    ]
    if role is Role.ADMIN:
        paths.extend(["/users", "/calls/supervisor"])
    for path in paths:
        phone_page.goto(f"{live_server}{path}")
        assert phone_page.locator("main h1").is_visible(), path
        assert _page_fits_the_screen(phone_page), f"{path} is wider than 375 px"


def test_caller_navigates_from_lost_deals_to_the_account(phone_page, live_server, make_user, crm_data):
    user = make_user(Role.CALLER)
    _sign_in(phone_page, live_server, user.email)
    phone_page.get_by_role("link", name="Lost deals").click()
    phone_page.get_by_role("link", name="Vandelay Industries International Holdings").click()
    assert (
        phone_page.get_by_role("heading", level=1).inner_text()
        == "Vandelay Industries International Holdings"
    )
    assert phone_page.get_by_text("Art Vandelay").is_visible()
    assert phone_page.get_by_role("link", name="Users").count() == 0  # not a caller's page


def test_every_admin_menu_page_fits_a_375px_phone(phone_page, live_server, make_user, runner):
    """With the demo data loaded, so tables are full as in real use."""
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    user = make_user(Role.ADMIN)
    _sign_in(phone_page, live_server, user.email)
    menu = phone_page.get_by_role("navigation", name="Main")
    paths = [link.get_attribute("href") for link in menu.get_by_role("link").all()]
    assert len(paths) >= 8
    for path in paths:
        phone_page.goto(f"{live_server}{path}")
        assert phone_page.locator("main h1").first.is_visible(), path
        assert _page_fits_the_screen(phone_page), f"{path} is wider than 375 px"
