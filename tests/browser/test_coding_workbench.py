"""The coding workbench by keyboard (type to filter, digits for suggestions, Enter to confirm and go on), and
its Skip and Not codable buttons."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect
from sqlalchemy import select

from app.auth.models import Role
from app.codebook.models import ReasonCode
from app.coding.models import Coding, CodingAnswerMark, CodingStatus
from app.coding.service import add_rule
from app.extensions import db
from tests.browser.axe_rules import WCAG_21_AA
from tests.browser.test_import_pages import _sign_in
from tests.coding.conftest import respond, survey  # noqa: F401 (fixtures)


def _codes(answer_id: int) -> set[str]:
    db.session.expire_all()
    return set(
        db.session.scalars(
            select(ReasonCode.code)
            .join(Coding)
            .where(
                Coding.answer_id == answer_id,
                Coding.source == "person",
                Coding.status == CodingStatus.CONFIRMED,
            )
        )
    )


def test_an_analyst_codes_two_answers_with_the_keyboard_only(desktop_page, live_server, make_user, respond):  # noqa: F811
    first = respond("It was far too expensive")
    second = respond("The Salesforce sync kept failing")
    add_rule(db.session.scalar(select(ReasonCode).where(ReasonCode.code == "price.too_high")), "expensive")
    db.session.commit()
    analyst = make_user(Role.ANALYST)
    page = desktop_page
    _sign_in(page, live_server, analyst.email)
    page.goto(f"{live_server}/coding/")
    page.wait_for_url(re.compile(rf"/coding/answers/{first.id}"))
    expect(page.get_by_text("rule “expensive”")).to_be_visible()
    page.locator("body").click()
    page.keyboard.press("1")  # the top suggestion
    expect(page.locator('input[data-digit="1"]')).to_be_checked()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/coding/answers/{second.id}"))
    assert _codes(first.id) == {"price.too_high"}
    page.keyboard.press("/")
    page.keyboard.type("integrations")
    expect(page.locator("[data-code-text^='product.integration']")).to_be_visible()
    expect(page.locator("[data-code-text^='price.too_high ']")).to_be_hidden()
    page.keyboard.press("Enter")  # ticks the first match
    page.locator("body").click()
    page.keyboard.press("Enter")  # confirms
    expect(page.get_by_text("The queue is empty")).to_be_visible()
    assert _codes(second.id) == {"product.integration"}


def _no_violations(page, axe, label):
    results = axe.run(page, options=WCAG_21_AA)
    assert results.violations_count == 0, f"{label}: {results.generate_report()}"


def _marks(answer_id: int) -> set[str]:
    db.session.expire_all()
    return {
        m.value
        for m in db.session.scalars(
            select(CodingAnswerMark.mark).where(CodingAnswerMark.answer_id == answer_id)
        )
    }


@pytest.mark.parametrize("width", [375, 1280])
def test_an_analyst_skips_an_answer_and_marks_another_not_codable(
    browser,
    live_server,
    make_user,
    respond,  # noqa: F811 (the imported fixture)
    width,
):
    first = respond("Hmm")
    second = respond("asdf qwerty")
    analyst = make_user(Role.ANALYST)
    axe = Axe()
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    _sign_in(page, live_server, analyst.email)
    page.goto(f"{live_server}/coding/")
    page.wait_for_url(re.compile(rf"/coding/answers/{first.id}"))
    _no_violations(page, axe, "workbench")
    page.get_by_role("button", name="Skip").click()
    page.wait_for_url(re.compile(rf"/coding/answers/{second.id}"))
    assert _marks(first.id) == {"skipped"}
    page.get_by_role("button", name="Not codable").click()
    page.wait_for_url(re.compile(rf"/coding/answers/{first.id}"))  # the skipped answer comes back
    expect(page.get_by_text("Marked not codable.")).to_be_visible()
    _no_violations(page, axe, "workbench after not codable")
    assert _marks(second.id) == {"not_codable"}
    page.goto(f"{live_server}/")
    expect(page.get_by_text("1 answer marked not codable.")).to_be_visible()
    _no_violations(page, axe, "analyst home")
    context.close()
