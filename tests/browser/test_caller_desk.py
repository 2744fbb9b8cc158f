"""The caller's desk in a browser: nothing typed is lost, the script's logic is live, callbacks keep hours."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from app.db_types import utcnow
from tests.browser.axe_rules import WCAG_21_AA
from tests.calls.conftest import live_queue, make_queue, survey_version  # noqa: F401 (fixtures)

PASSWORD = "correct horse battery"
WIDTHS = [375, 1280]


def _no_violations(page, label):
    results = Axe().run(page, options=WCAG_21_AA)
    assert results.violations_count == 0, f"{label}: {results.generate_report()}"


def _desk(browser, live_server, queue, width):
    """Sign in as the queue's caller and take the next call: the task page."""
    context = browser.new_context(viewport={"width": width, "height": 900}, timezone_id="UTC")
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill(queue.caller.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server}/calls")
    page.get_by_role("button", name="Next call").click()
    page.wait_for_url(f"{live_server}/calls/tasks/*")
    return context, page


@pytest.mark.parametrize("width", WIDTHS)
def test_notes_typed_are_there_after_a_reload(browser, live_server, live_queue, width):  # noqa: F811
    queue = live_queue(1)
    context, page = _desk(browser, live_server, queue, width)
    _no_violations(page, "caller's desk")
    page.get_by_label("Notes").fill("Wants a demo in March")
    expect(page.locator("#autosave-status")).to_have_text("Saved.")  # debounced, no blur needed
    page.reload()
    expect(page.get_by_label("Notes")).to_have_value("Wants a demo in March")
    # The call button and the dispositions are on screen without scrolling, at either width.
    expect(page.get_by_role("group", name="Call and dispositions")).to_be_in_viewport()
    expect(page.locator("#dial")).to_be_in_viewport()
    page.mouse.wheel(0, 3000)  # and still after scrolling down the page
    expect(page.locator("#dial")).to_be_in_viewport()
    page.keyboard.press("c")  # dial by hand: the message sits above the desk, over nothing
    flash = page.locator(".flashes .flash").filter(has_text="by hand now")
    expect(flash).to_be_visible()
    page.wait_for_load_state("load")  # measured once the new page's stylesheets and scripts have laid it out
    message, desk = flash.bounding_box(), page.locator(".desk").bounding_box()
    assert message["y"] + message["height"] <= desk["y"]
    expect(page.get_by_label("Notes")).to_have_value("Wants a demo in March")
    context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_my_time_zone_page(browser, live_server, live_queue, width):  # noqa: F811
    queue = live_queue(1)
    context, page = _desk(browser, live_server, queue, width)
    page.goto(f"{live_server}/account/profile")
    _no_violations(page, "my time zone")
    page.get_by_label("My time zone").select_option("Pacific/Honolulu")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Your time zone is Pacific/Honolulu.")).to_be_visible()
    context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_ticking_yes_shows_the_follow_up_and_a_missing_answer_is_named(
    browser,
    live_server,
    live_queue,  # noqa: F811
    survey_version,  # noqa: F811
    width,
):
    queue = live_queue(1, survey_version=survey_version)
    trigger = next(q for q in survey_version.questions if q.kind.value == "yes_no")
    follow_up = next(q for q in survey_version.questions if q.show_if_question_id == trigger.id)
    context, page = _desk(browser, live_server, queue, width)
    question = page.get_by_text(follow_up.text)
    expect(question).to_be_hidden()
    page.locator(f"input[name={trigger.html_id}][value=yes]").check()
    expect(question).to_be_visible()  # no reload
    page.locator(f"input[name={trigger.html_id}][value=no]").check()
    expect(question).to_be_hidden()
    page.locator(f"input[name={trigger.html_id}][value=yes]").check()
    expect(page.locator("#autosave-status")).to_have_text("Saved.")
    page.get_by_role("button", name="Completed interview").click()
    link = page.get_by_role("link", name=f"Answer “{follow_up.text}”.")
    expect(link).to_be_visible()
    _no_violations(page, "a refused completion")
    link.click()
    expect(page.locator(f"#{follow_up.html_id}-group input").first).to_be_focused()
    context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_callback_at_the_contacts_22_00_is_refused_with_the_next_allowed_time(
    browser,
    live_server,
    live_queue,  # noqa: F811
    width,
):
    queue = live_queue(1)
    zone = ZoneInfo(queue.contacts[0].timezone)
    tomorrow = (utcnow().astimezone(zone) + timedelta(days=1)).date()
    context, page = _desk(browser, live_server, queue, width)
    page.locator("#callback summary").click()
    page.get_by_label("Call back at").fill(f"{tomorrow}T22:00")
    mine = (datetime.combine(tomorrow, time(22, 0), tzinfo=zone)).astimezone(UTC)  # the caller's zone is UTC
    expect(page.locator("#callback-other")).to_contain_text(f"{mine:%H:%M} your time")
    page.get_by_role("button", name="Callback requested").click()
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("is outside the calling window")
    expect(summary).to_contain_text("The next allowed time is")
    expect(page.get_by_label("Call back at")).to_have_value(f"{tomorrow + timedelta(days=1)}T08:00")
    _no_violations(page, "a refused callback")
    page.get_by_role("button", name="Callback requested").click()
    page.wait_for_url(f"{live_server}/calls")  # booked; nobody else is due
    expect(page.get_by_text("callback requested.")).to_be_visible()
    context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_stop_after_this_call_survives_a_failed_submit(browser, live_server, live_queue, width):  # noqa: F811
    queue = live_queue(2)
    context, page = _desk(browser, live_server, queue, width)
    page.get_by_label("Notes").fill("Asked to be called next week")
    page.get_by_label("Stop after this call").check()
    page.get_by_role("button", name="Callback requested").click()  # no time given: refused
    expect(page.get_by_role("link", name="Say when to call back.")).to_be_visible()
    expect(page.get_by_label("Stop after this call")).to_be_checked()
    expect(page.get_by_label("Notes")).to_have_value("Asked to be called next week")
    page.goto(page.url.removesuffix("/disposition"))  # and it was saved, not only re-rendered
    expect(page.get_by_label("Stop after this call")).to_be_checked()
    page.get_by_role("button", name="Busy").click()
    page.wait_for_url(f"{live_server}/calls")  # stopped: the queue, not the next call
    context.close()


def test_the_shortcut_overlay_lists_the_keys(browser, live_server, live_queue):  # noqa: F811
    queue = live_queue(1)
    context, page = _desk(browser, live_server, queue, 1280)
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Completed interview")
    _no_violations(page, "shortcut overlay")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    context.close()


def test_a_new_users_time_zone_is_their_browsers(browser, live_server, make_user):
    from app.auth.models import Role

    user = make_user(Role.CALLER)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="Asia/Tokyo")
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_response(f"{live_server}/account/time-zone") as posted:
        page.get_by_role("button", name="Sign in").click()
    assert posted.value.status == 204
    page.goto(f"{live_server}/account/profile")
    expect(page.get_by_label("My time zone")).to_have_value("Asia/Tokyo")
    expect(page.get_by_text("Taken from your browser")).to_be_visible()
    context.close()
