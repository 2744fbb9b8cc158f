"""The staff layout in a real browser: menu on a laptop and a phone, no page wider than the screen,
no axe violation on any staff page, visible control borders and focus ring, messages that stay put."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect
from sqlalchemy import select

from app.auth.models import Role
from app.extensions import db
from tests.browser.axe_rules import WCAG_21_AA

PASSWORD = "correct horse battery"


LANDMARK_PAGES = (
    "/dashboard",
    "/calls",
    "/calls/supervisor",
    "/reports/sales-vs-customers",
    "/settings/currency",
)


def _sign_in(page, base_url: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: url in (f"{base_url}/dashboard", f"{base_url}/calls"))


def _page_fits_the_screen(page) -> bool:
    # The viewport's width, not window.innerWidth: on a mobile viewport innerWidth grows with the overflow.
    return page.evaluate(
        "width => document.documentElement.scrollWidth <= width", page.viewport_size["width"]
    )


def _open_phone_menu(page) -> None:
    page.locator("details.nav-narrow > summary").click()


def _menu_paths(page) -> list[str]:
    """Every page of the signed-in user's menu, whether the menu is open or not."""
    hrefs = page.locator("header.site nav[aria-label='Main'] a").evaluate_all(
        "links => links.map(link => link.getAttribute('href'))"
    )
    return sorted(set(hrefs))


def _unfocusable_or_unnamed_scroll_boxes(page) -> list[str]:
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('main *')).filter(el => {
              const style = getComputedStyle(el);
              return ['auto', 'scroll'].includes(style.overflowX) && el.scrollWidth > el.clientWidth + 1;
           }).filter(el => el.tabIndex < 0
                           || !(el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')))
             .map(el => el.outerHTML.slice(0, 80))"""
    )


def _rgb(color: str) -> tuple[float, float, float, float]:
    parts = [float(p) for p in re.findall(r"[\d.]+", color)]
    return (*parts[:3], parts[3] if len(parts) > 3 else 1.0)


def _luminance(rgb) -> float:
    def channel(c: float) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(foreground: str, background: str) -> float:
    fg, bg = _rgb(foreground), _rgb(background)
    # A translucent colour is seen blended over the background.
    alpha = fg[3]
    blended = tuple(alpha * f + (1 - alpha) * b for f, b in zip(fg[:3], bg[:3], strict=True))
    light, dark = sorted((_luminance(blended), _luminance(bg)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


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
    assert phone_page.get_by_role("link", name="Lost deals").count() == 0  # folded in the menu
    _open_phone_menu(phone_page)
    phone_page.get_by_role("link", name="Lost deals").click()
    phone_page.get_by_role("link", name="Vandelay Industries International Holdings").click()
    expect(phone_page.get_by_role("heading", level=1)).to_have_text(
        "Vandelay Industries International Holdings"
    )
    expect(phone_page.get_by_text("Art Vandelay")).to_be_visible()
    _open_phone_menu(phone_page)
    menu = phone_page.get_by_role("navigation", name="Main")
    assert menu.get_by_role("link", name="Accounts").is_visible()
    assert phone_page.get_by_role("link", name="Users").count() == 0  # not a caller's page


def test_the_phone_menu_works_without_javascript(browser, live_server, make_user, crm_data):
    context = browser.new_context(
        viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True, java_script_enabled=False
    )
    page = context.new_page()
    _sign_in(page, live_server, make_user(Role.ADMIN).email)
    _open_phone_menu(page)
    menu = page.get_by_role("navigation", name="Main")
    for group in ("Deals", "Campaigns", "Surveys", "Settings"):
        assert menu.get_by_role("list", name=group).is_visible(), group
    menu.get_by_role("link", name="Outbox").click()
    page.wait_for_url(f"{live_server}/outbox")
    assert page.get_by_role("heading", level=1).inner_text() == "Outbox"
    context.close()


def test_the_laptop_menu_is_one_row_of_grouped_menus(desktop_page, live_server, make_user):
    page = desktop_page
    _sign_in(page, live_server, make_user(Role.ADMIN).email)
    tops = page.locator(".site-bar .brand, .nav-wide > ul > li, .site-bar .sign-out").evaluate_all(
        "items => items.map(item => item.getBoundingClientRect()).map(box => box.top + box.height / 2)"
    )
    assert len(tops) >= 6
    assert max(tops) - min(tops) < 10  # one row, not three
    menu = page.get_by_role("navigation", name="Main")
    assert menu.get_by_role("link", name="Lost deals").count() == 0  # closed until asked
    menu.locator("summary", has_text="Deals").click()
    menu.get_by_role("link", name="Lost deals").click()
    page.wait_for_url(f"{live_server}/opportunities")
    menu.locator("summary", has_text="Settings").click()
    assert menu.get_by_role("link", name="Users").is_visible()
    page.keyboard.press("Escape")
    assert menu.get_by_role("link", name="Users").count() == 0
    menu.locator("summary", has_text="Campaigns").click()
    assert menu.get_by_role("link", name="Outbox").is_visible()
    page.mouse.click(640, 600)  # a click anywhere else closes the menu, even without JavaScript (Pico)
    assert menu.get_by_role("link", name="Outbox").count() == 0


def _staff_pages(menu_paths: list[str]) -> list[str]:
    from app.crm.importing.models import ImportBatch
    from app.crm.models import Account, Opportunity
    from campaigns.models import Campaign
    from surveys.models import Response as SurveyResponse
    from surveys.models import Survey

    first = {
        model: db.session.scalar(select(model.id).order_by(model.id).limit(1))
        for model in (Account, Opportunity, Campaign, Survey, SurveyResponse, ImportBatch)
    }
    details = [
        f"/accounts/{first[Account]}",
        f"/opportunities/{first[Opportunity]}",
        "/opportunities?status=all&sort=-amount",
        f"/campaigns/{first[Campaign]}",
        f"/campaigns/{first[Campaign]}/edit",
        "/campaigns/new",
        f"/surveys/{first[Survey]}",
        f"/surveys/{first[Survey]}/responses",
        f"/surveys/{first[Survey]}/questions/new",
        f"/surveys/{first[Survey]}/preview",
        f"/surveys/responses/{first[SurveyResponse]}",
        "/imports/new",
        "/imports/competitors",
        "/imports/loss-reasons",
        "/imports/api-tokens",
    ]
    if first[ImportBatch]:
        details.append(f"/imports/{first[ImportBatch]}")
    return menu_paths + details


def test_no_staff_page_overflows_or_has_an_axe_violation_with_the_demo_data(
    browser, demo_live_server, own_demo
):
    """Every page an admin can reach, at 1280 and 375 px, with the demo data so tables are full."""
    live_server = demo_live_server
    email, password = own_demo.logins["admin"]
    axe = Axe()
    for viewport in ({"width": 1280, "height": 900}, {"width": 375, "height": 812}):
        phone = viewport["width"] < 500
        context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone)
        page = context.new_page()
        _sign_in(page, live_server, email, password)
        menu = _menu_paths(page)
        assert len(menu) >= 10
        pages = _staff_pages(menu)
        # The pages where axe once found two landmarks of one name (the call task: test_call_queue).
        assert set(LANDMARK_PAGES) <= {path.split("?")[0] for path in pages}
        assert any(re.fullmatch(r"/campaigns/\d+", path) for path in pages)
        for path in pages:
            page.goto(f"{live_server}{path}")
            where = f"{path} at {viewport['width']} px"
            assert page.locator("main h1").first.is_visible(), where
            assert _page_fits_the_screen(page), f"{where} is wider than the screen"
            assert _unfocusable_or_unnamed_scroll_boxes(page) == [], where
            if not phone:
                # At 1280 px the tables fit their box: nothing to scroll sideways.
                assert page.evaluate(
                    "() => Array.from(document.querySelectorAll('main table'))"
                    ".every(t => t.parentElement.scrollWidth <= t.parentElement.clientWidth + 1)"
                ), f"a table of {where} is wider than the page"
            results = axe.run(page, options=WCAG_21_AA)
            assert results.violations_count == 0, f"{where}: {results.generate_report()}"
        context.close()


@pytest.mark.parametrize("role", [Role.CALLER, Role.SALES_MANAGER, Role.ANALYST])
def test_other_roles_menu_pages_fit_both_screens_without_axe_violations(
    role, browser, live_server, make_user, crm_data
):
    user = make_user(role)
    axe = Axe()
    for viewport in ({"width": 1280, "height": 900}, {"width": 375, "height": 812}):
        phone = viewport["width"] < 500
        context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone)
        page = context.new_page()
        _sign_in(page, live_server, user.email)
        paths = _menu_paths(page)
        assert "/users" not in paths
        assert "/styleguide" not in paths
        for path in paths:
            page.goto(f"{live_server}{path}")
            assert _page_fits_the_screen(page), f"{path} at {viewport['width']} px"
            assert page.locator(".banner-simulated").count() == 0, path  # the setup banner is for admins
            results = axe.run(page, options=WCAG_21_AA)
            assert results.violations_count == 0, f"{path}: {results.generate_report()}"
        context.close()


def test_control_borders_and_the_focus_ring_have_3_to_1_contrast(desktop_page, live_server, make_user):
    """WCAG 1.4.11, which axe does not check: computed from the styles the browser applies."""
    page = desktop_page
    _sign_in(page, live_server, make_user(Role.ADMIN).email)
    page.goto(f"{live_server}/styleguide")
    background = page.evaluate(
        """() => [document.body, document.documentElement].map(el => getComputedStyle(el).backgroundColor)
                 .find(color => color !== 'rgba(0, 0, 0, 0)' && color !== 'transparent')
                 || 'rgb(255, 255, 255)'"""
    )
    for selector in (
        "input[type=checkbox]:not(:checked)",
        "input[type=radio]:not(:checked)",
        "input[type=checkbox]:checked",
        "input[type=radio]:checked",
        "#sg-text",
    ):
        border = page.locator(selector).first.evaluate("el => getComputedStyle(el).borderTopColor")
        assert _contrast(border, background) >= 3, f"{selector} border {border} on {background}"

    seen = {}
    page.locator("body").click(position={"x": 5, "y": 400})
    for _ in range(80):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => { const el = document.activeElement, s = getComputedStyle(el);
                 return {kind: el.tagName.toLowerCase() + (el.type ? ':' + el.type : ''),
                         style: s.outlineStyle, width: parseFloat(s.outlineWidth), color: s.outlineColor,
                         visible: el.matches(':focus-visible')}; }"""
        )
        seen.setdefault(focused["kind"], focused)
    for kind in (
        "a",
        "summary",
        "button:button",
        "input:checkbox",
        "input:radio",
        "input:text",
        "select:select-one",
    ):
        ring = seen.get(kind)
        assert ring is not None, f"never focused a {kind}: {sorted(seen)}"
        assert ring["visible"], kind
        assert ring["style"] != "none", kind
        assert ring["width"] >= 2, kind
        assert _contrast(ring["color"], background) >= 3, f"{kind} focus ring {ring['color']}"


def test_a_message_does_not_push_the_page_down_and_can_be_dismissed(desktop_page, live_server, make_user):
    page = desktop_page
    _sign_in(page, live_server, make_user(Role.ADMIN).email)
    page.goto(f"{live_server}/do-not-contact")
    before = page.locator("main h1").bounding_box()["y"]
    page.locator("form[action$='/do-not-contact/import']").get_by_role("button", name="Import").click()
    message = page.get_by_role("alert")
    assert "Choose a file or paste a list first." in message.inner_text()
    assert page.locator("main h1").bounding_box()["y"] == before
    page.get_by_role("button", name="Dismiss this message").click()
    assert page.get_by_role("alert").count() == 0


def test_the_import_preview_and_history_fit_1280px_with_long_values(
    desktop_page, live_server, make_user, tmp_path
):
    from tests.browser.test_import_pages import HEADER, _upload, _write_csv

    long_row = [
        "006A00009",
        "Vandelay Industries – Enterprise Suite renewal with a long name, phase two",
        "Vandelay Industries International Holdings",
        "001A00009",
        "Closed Lost",
        "$1,250,000.00",
        "11/02/2026",
        "Dana Scully",
        "Lost to Competitor – pricing and missing integrations",
        "Salesforce Marketing Cloud",
        "Bartholomew",
        "Vandelay-Kessler",
        "bartholomew.vandelay-kessler@vandelay-industries-international.example",
        "(415) 555-0101",
    ]
    export = _write_csv(tmp_path / "vandelay-industries-lost-deals-export-2026.csv", HEADER, [long_row] * 3)
    page = desktop_page
    _sign_in(page, live_server, make_user(Role.ADMIN).email)
    _upload(page, live_server, export)
    axe = Axe()
    for where in ("the preview", "the result"):
        assert _page_fits_the_screen(page), where
        assert page.evaluate(
            "() => Array.from(document.querySelectorAll('main table'))"
            ".every(t => t.parentElement.scrollWidth <= t.parentElement.clientWidth + 1)"
        ), f"a table of {where} is wider than the page"
        results = axe.run(page, options=WCAG_21_AA)
        assert results.violations_count == 0, f"{where}: {results.generate_report()}"
        if where == "the preview":
            page.get_by_role("button", name="Import", exact=True).click()
            page.wait_for_url(re.compile(r"/imports/\d+(\?.*)?$"))
    page.goto(f"{live_server}/imports/")
    assert page.evaluate(
        "() => Array.from(document.querySelectorAll('main table'))"
        ".every(t => t.parentElement.scrollWidth <= t.parentElement.clientWidth + 1)"
    ), "the import history is wider than the page"
