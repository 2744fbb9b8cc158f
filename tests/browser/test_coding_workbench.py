"""The coding workbench by keyboard: type to filter, digits for suggestions, Enter to confirm and go on."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from app.auth.models import Role
from app.codebook.models import ReasonCode
from app.coding.models import Coding, CodingStatus
from app.coding.service import add_rule
from app.extensions import db
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
