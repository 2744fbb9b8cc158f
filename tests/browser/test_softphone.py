"""The softphone in a browser: the Voice SDK served from /static loads under the page's
Content-Security-Policy, the mode is said, the controls wait for a call, and axe finds nothing."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.browser.axe_rules import WCAG_21_AA
from tests.calls.conftest import live_queue, make_queue  # noqa: F401 (fixtures)
from tests.calls.twilio_fake import ACCOUNT_SID, AUTH_TOKEN, TWILIO_FROM

PASSWORD = "correct horse battery"
BROWSER_SETTINGS = {
    "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
    "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
    "TWILIO_FROM": TWILIO_FROM,
    "TWILIO_API_KEY_SID": "SK" + "2" * 32,
    "TWILIO_API_KEY_SECRET": "a-test-api-key-secret-of-32-bytes-or-more",
    "TWILIO_TWIML_APP_SID": "AP" + "3" * 32,
}


@pytest.mark.parametrize("width", [375, 1280])
def test_the_softphone_loads_the_sdk_from_static_and_passes_axe(
    browser,
    live_server,
    app,
    monkeypatch,
    live_queue,  # noqa: F811 (the imported fixture)
    width,
):
    for name, value in BROWSER_SETTINGS.items():
        monkeypatch.setitem(app.config, name, value)
    queue = live_queue(1, voicemail_text="Hello from Acme: we will call again.")
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    blocked = []
    page.on(
        "console",
        lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None,
    )
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill(queue.caller.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server}/calls")
    page.keyboard.press("n")
    page.wait_for_url(f"{live_server}/calls/tasks/*")
    expect(page.locator("#softphone-mode")).to_contain_text("Browser calling.")
    page.wait_for_function("() => window.Twilio && window.Twilio.Device")  # the vendored bundle ran
    expect(page.get_by_role("button", name="Mute")).to_be_disabled()
    expect(page.get_by_role("button", name="Hang up")).to_be_disabled()
    expect(page.get_by_role("button", name="Send 5")).to_be_disabled()
    expect(page.get_by_role("button", name="Leave the voicemail and go to the next call")).to_be_visible()
    expect(page.locator("#softphone-call")).to_be_enabled()
    results = Axe().run(page, options=WCAG_21_AA)
    assert results.violations_count == 0, results.generate_report()
    assert blocked == []
    context.close()
