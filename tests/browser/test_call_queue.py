"""A caller works the queue in a browser: next call, script autosaved, a reload, a keyboard disposition."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.browser.axe_rules import WCAG_21_AA
from tests.calls.conftest import live_queue, make_queue, survey_version  # noqa: F401 (fixtures)

PASSWORD = "correct horse battery"


def _no_violations(page, axe, label):
    results = axe.run(page, options=WCAG_21_AA)
    assert results.violations_count == 0, f"{label}: {results.generate_report()}"


@pytest.mark.parametrize("width", [375, 1280])
def test_a_caller_takes_calls_fills_the_script_reloads_and_disposes_with_the_keyboard(
    browser,
    live_server,
    live_queue,  # noqa: F811 (the imported fixture)
    survey_version,  # noqa: F811 (the imported fixture)
    width,
):
    queue = live_queue(3, survey_version=survey_version)
    question = next(q for q in survey_version.questions if q.kind.value == "long_text")
    axe = Axe()
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill(queue.caller.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server}/calls")
    _no_violations(page, axe, "queue page")

    page.keyboard.press("n")  # Next call
    page.wait_for_url(f"{live_server}/calls/tasks/*")
    first = page.url
    _no_violations(page, axe, "caller screen")

    field = page.locator(f"[name={question.html_id}]")
    field.fill("Their support never answered us")
    page.get_by_role("heading", level=1).click()  # leave the field: the change is saved
    expect(page.locator("#autosave-status")).to_have_text("Saved.")
    page.reload()
    assert page.locator(f"[name={question.html_id}]").input_value() == "Their support never answered us"

    page.keyboard.press("1")  # No answer, and on to the next call
    page.wait_for_url(lambda url: "/calls/tasks/" in url and url != first)
    expect(page.get_by_text("No answer.")).to_be_visible()
    _no_violations(page, axe, "next caller screen")
    context.close()
