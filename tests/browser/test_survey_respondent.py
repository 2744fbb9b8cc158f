"""A customer answers on a phone, with and without JavaScript; every respondent page passes axe-core."""

from __future__ import annotations

import struct
import zlib
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from sqlalchemy import select

from app.extensions import db
from app.organisation.service import forget_brand, update_organisation
from surveys.models import Answer, Response, ResponseStatus
from tests.browser.axe_rules import WCAG_21_AA
from tests.survey_helpers import NOW, invite, published_survey, question_ids

PHONE = {"width": 375, "height": 812}


@pytest.fixture
def survey_link(make_contact, live_server):
    version = published_survey().published
    invitation, token = invite(version, make_contact(first_name="Ada"), expires_at=NOW + timedelta(days=3650))
    return f"{live_server}/s/{token}", version


def _fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def _answer_until_page_three(page, link):
    page.goto(link)
    assert page.get_by_text("Page 1 of about 4").is_visible()  # page 3 shows only after a "yes"
    page.get_by_label("Price").check()
    page.get_by_label("Support").check()
    page.get_by_role("button", name="Next").click()
    page.wait_for_url("**page=2")
    page.get_by_label("4 – Good").check()
    page.get_by_label("9", exact=True).check()
    page.get_by_label("Yes").check()
    page.get_by_role("button", name="Next").click()
    page.wait_for_url("**page=3")
    page.get_by_text("Page 3 of 4").wait_for()  # the count did not grow: it said "about 4"
    assert page.get_by_label("When?").is_visible()
    assert page.get_by_text("Choose it in the calendar").is_visible()
    page.get_by_label("When?").fill("2027-03-31")
    assert _fits(page)


def _resume_and_finish(page, link):
    page.goto(link)
    # Resumes on page 3 (its answer was not sent yet), the earlier answers kept.
    assert page.get_by_label("When?").is_visible()
    page.get_by_role("button", name="Back").click()
    page.wait_for_url("**page=2")
    assert page.get_by_label("4 – Good").is_checked()
    assert page.get_by_label("Yes").is_checked()
    page.get_by_role("button", name="Next").click()
    page.get_by_label("When?").fill("2027-03-31")
    page.get_by_role("button", name="Next").click()
    page.wait_for_url("**page=4")
    page.get_by_label("Which vendor?").fill("Globex")
    page.get_by_label("Anything else?").fill("Faster quotes, please.")
    page.get_by_role("button", name="Send my answers").click()
    page.wait_for_url("**/thanks")
    assert page.get_by_role("heading", name="Tell us").is_visible()
    assert page.get_by_text("Thanks a lot.").is_visible()
    assert page.locator("main").inner_text().lower().count("thank") == 1


def _assert_stored(version):
    db.session.expire_all()
    response = db.session.scalar(select(Response))
    assert response.status is ResponseStatus.COMPLETE
    q = question_ids(version)
    answers = {a.question_id: a for a in db.session.scalars(select(Answer))}
    assert answers[q[0]].choices == ["price"]
    assert answers[q[3]].number == 9
    assert answers[q[5]].date_value.isoformat() == "2027-03-31"
    assert answers[q[7]].text == "Faster quotes, please."


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_customer_on_a_phone_answers_closes_midway_reopens_and_finishes(browser, survey_link, javascript):
    link, version = survey_link
    first = browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, java_script_enabled=javascript
    )
    _answer_until_page_three(first.new_page(), link)
    first.close()  # the tab is gone; a new browser session opens the link from the email again
    second = browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, java_script_enabled=javascript
    )
    _resume_and_finish(second.new_page(), link)
    second.close()
    _assert_stored(version)


def _no_violations(page, axe, label):
    results = axe.run(page, options=WCAG_21_AA)
    assert results.violations_count == 0, f"{label}: {results.generate_report()}"
    assert _fits(page) or page.viewport_size["width"] > 400, f"{label} is wider than the screen"


@pytest.mark.parametrize("width", [375, 1280])
def test_every_respondent_page_has_no_accessibility_violations(browser, survey_link, make_contact, width):
    link, version = survey_link
    expired, expired_token = invite(version, make_contact(), expires_at=NOW - timedelta(days=1))
    axe = Axe()
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(link)
    _no_violations(page, axe, "page 1: single and multiple choice")
    page.get_by_role("button", name="Next").click()  # nothing chosen: the required error
    assert page.get_by_role("alert").is_visible()
    _no_violations(page, axe, "page 1 with errors")
    page.get_by_label("Price").check()
    page.get_by_label("Other", exact=True).check()
    page.get_by_role("button", name="Next").click()  # "Other" ticked without saying what
    assert page.get_by_text("please say what it is").first.is_visible()
    _no_violations(page, axe, "page 1 with the other error")
    page.get_by_label("Other, please specify").fill("Their roadmap")
    page.get_by_role("button", name="Next").click()
    page.wait_for_url("**page=2")
    _no_violations(page, axe, "page 2: rating, NPS, yes/no")
    page.get_by_label("Yes").check()
    page.get_by_role("button", name="Next").click()
    page.wait_for_url("**page=3")
    page.get_by_label("When?").fill("1800-01-01")
    page.get_by_role("button", name="Next").click()
    _no_violations(page, axe, "page 3: date with an error")
    page.get_by_label("When?").fill("2027-01-31")
    page.get_by_role("button", name="Next").click()
    page.wait_for_url("**page=4")
    _no_violations(page, axe, "page 4: short and long text")
    page.get_by_label("Anything else?").fill("x" * 5001)
    page.get_by_role("button", name="Send my answers").click()
    assert page.get_by_text("Nothing was cut.").first.is_visible()
    _no_violations(page, axe, "page 4 with a too-long answer")
    unsubscribe = page.get_by_role("link", name="Unsubscribe from these messages")
    assert "/unsubscribe/" in unsubscribe.get_attribute("href")
    page.get_by_label("Anything else?").fill("Fine.")
    page.get_by_role("button", name="Send my answers").click()
    page.wait_for_url("**/thanks")
    _no_violations(page, axe, "thank-you page")
    page.goto(link.rsplit("/", 1)[0] + f"/{expired_token}")
    assert page.get_by_role("heading", name="This survey has closed").is_visible()
    _no_violations(page, axe, "expired link page")
    page.goto(link.rsplit("/", 1)[0] + "/" + "A" * 43)
    assert page.get_by_role("heading", name="We can't find this survey link").is_visible()
    _no_violations(page, axe, "unknown link page")
    fresh = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    fresh.goto(link)  # completed link, another browser
    assert fresh.get_by_role("heading", name="You've already answered, thank you").is_visible()
    _no_violations(fresh, axe, "completed link page")
    fresh.context.close()
    context.close()


def _png(width: int, height: int) -> bytes:
    """A real (solid blue) PNG, so the browser draws the logo."""
    raw = b"".join(b"\x00" + b"\x1d\x4e\xd8" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def branded(app):
    update_organisation(
        name="Acme Analytics",
        brand_colour="#1d4ed8",
        postal_address="1 Main St, Springfield",
        logo=_png(240, 60),
        now=NOW,
    )
    db.session.commit()
    yield
    forget_brand()


@pytest.mark.parametrize("width", [375, 1280])
def test_branded_survey_pages_show_the_organisation_and_stay_accessible(browser, branded, survey_link, width):
    link, version = survey_link
    axe = Axe()
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(link)
    logo = page.get_by_role("img", name="Acme Analytics")
    assert logo.is_visible()
    assert page.evaluate("document.querySelector('img.brand-logo').naturalWidth") == 240
    # The brand colour comes from /brand.css: the button and the heading use it.
    button = page.get_by_role("button", name="Next")
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(29, 78, 216)"
    assert page.get_by_text("Your answers are seen only by Acme Analytics.").is_visible()
    _no_violations(page, axe, "branded page 1")
    page.get_by_role("button", name="Next").click()  # the required error, branded
    page.get_by_role("alert").wait_for()
    _no_violations(page, axe, "branded page 1 with errors")
    context.close()
