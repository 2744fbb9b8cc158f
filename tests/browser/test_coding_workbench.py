"""The coding workbench by keyboard (`/` to filter, Enter ticks the highlighted code, digits for suggestions,
Ctrl+Enter to confirm and go on), and its Skip and Not codable buttons."""

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
    page.keyboard.press("Control+Enter")  # confirms
    page.wait_for_url(re.compile(rf"/coding/answers/{second.id}"))
    assert _codes(first.id) == {"price.too_high"}
    page.keyboard.press("/")
    page.keyboard.type("integrations")
    expect(page.locator("[data-code-key='product.integration']")).to_be_visible()
    expect(page.locator("[data-code-key='price.too_high']")).to_be_hidden()
    page.keyboard.press("Enter")  # ticks the highlighted match
    page.keyboard.press("Control+Enter")  # confirms
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


def _workbench(browser, live_server, make_user, width):
    """A page signed in as an analyst, at `width` px, with an axe runner."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    _sign_in(page, live_server, make_user(Role.ANALYST).email)
    return context, page, Axe()


@pytest.mark.parametrize("width", [375, 1280])
def test_the_filter_ticks_the_code_whose_label_matches_before_one_whose_key_does(
    browser,
    live_server,
    make_user,
    respond,  # noqa: F811
    width,
):
    answer = respond("We had no money left this quarter")
    context, page, axe = _workbench(browser, live_server, make_user, width)
    page.goto(f"{live_server}/coding/answers/{answer.id}")
    page.locator("body").click()
    page.keyboard.press("/")
    page.keyboard.type("timing")
    expect(page.locator("label.code-highlighted")).to_contain_text("Timing and budget")
    _no_violations(page, axe, "workbench while filtering")
    page.keyboard.press("Enter")
    expect(page.locator("[data-code-key='timing'] input")).to_be_checked()
    expect(page.locator("[data-code-key='timing.budget'] input")).not_to_be_checked()
    assert page.url.endswith(f"/coding/answers/{answer.id}")
    assert _codes(answer.id) == set()  # Enter ticked, it did not confirm
    page.keyboard.press("Control+Enter")
    expect(page.get_by_text("The queue is empty")).to_be_visible()
    assert _codes(answer.id) == {"timing"}
    context.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_enter_esc_and_a_second_filter_tick_both_codes_without_submitting(
    browser,
    live_server,
    make_user,
    respond,  # noqa: F811
    width,
):
    answer = respond("They gave a bigger discount and had the integrations we needed")
    context, page, axe = _workbench(browser, live_server, make_user, width)
    page.goto(f"{live_server}/coding/answers/{answer.id}")
    page.locator("body").click()
    for key in ["/", *"discount", "Enter", "Escape", "/", *"integrations", "Enter"]:
        page.keyboard.press(key)
    expect(page.locator("[data-code-key='price.discount'] input")).to_be_checked()
    expect(page.locator("[data-code-key='product.integration'] input")).to_be_checked()
    expect(page.locator("[data-code-filter]")).to_have_value("integrations")
    page.keyboard.press("Escape")
    expect(page.locator("[data-code-filter]")).to_have_value("")
    expect(page.locator("[data-code-key='timing']")).to_be_visible()  # the whole list is back
    _no_violations(page, axe, "workbench with two codes ticked")
    assert page.url.endswith(f"/coding/answers/{answer.id}")
    assert _codes(answer.id) == set()  # nothing was submitted
    page.keyboard.press("Enter")  # a stray Enter outside the filter does not submit either
    expect(page.get_by_text("Ctrl+Enter confirms the ticked codes.")).to_be_visible()
    assert _codes(answer.id) == set()
    page.keyboard.press("Control+Enter")
    expect(page.get_by_text("The queue is empty")).to_be_visible()
    assert _codes(answer.id) == {"price.discount", "product.integration"}
    context.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_a_code_shown_as_a_suggestion_is_reachable_from_the_filter(
    browser,
    live_server,
    make_user,
    respond,  # noqa: F811
    width,
):
    answer = respond("It was far too expensive")
    add_rule(db.session.scalar(select(ReasonCode).where(ReasonCode.code == "price.too_high")), "expensive")
    db.session.commit()
    context, page, axe = _workbench(browser, live_server, make_user, width)
    page.goto(f"{live_server}/coding/answers/{answer.id}")
    suggestion = page.locator("input[data-digit='1']")
    expect(suggestion).to_have_value(str(_code_id("price.too_high")))
    page.locator("body").click()
    page.keyboard.press("/")
    page.keyboard.type("price too high")
    expect(page.locator("label.code-highlighted")).to_contain_text("Price too high")
    _no_violations(page, axe, "workbench filtering a suggested code")
    page.keyboard.press("Enter")
    expect(suggestion).to_be_checked()
    page.keyboard.press("Control+Enter")
    expect(page.get_by_text("The queue is empty")).to_be_visible()
    assert _codes(answer.id) == {"price.too_high"}
    context.close()


def _code_id(code: str) -> int:
    return db.session.scalar(select(ReasonCode.id).where(ReasonCode.code == code))


@pytest.mark.parametrize("width", [375, 1280])
def test_a_second_coder_sees_the_sample_mark_and_a_lead_resolves_the_disagreement(
    browser,
    live_server,
    make_user,
    respond,  # noqa: F811
    width,
):
    from app.coding import agreement
    from app.coding.service import FINAL, CodeChoice, set_person_codes
    from tests.survey_helpers import NOW

    ana, bob = make_user(Role.ANALYST, name="Ana Ruiz"), make_user(Role.ANALYST, name="Bob Lee")
    answer = respond("Too expensive and the sync broke")
    agreement.draw_double_coding_sample(1.0, [ana, bob], now=NOW, seed=1)
    set_person_codes(answer, ana, [CodeChoice(_code_id("price.too_high"))], now=NOW)
    db.session.commit()
    axe = Axe()
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    _sign_in(page, live_server, bob.email)
    page.goto(f"{live_server}/coding/")
    page.wait_for_url(re.compile(rf"/coding/answers/{answer.id}"))
    expect(page.locator("[data-sample-mark]")).to_contain_text("Double-coding sample: second coder needed.")
    expect(page.locator("[data-sample-mark]")).to_contain_text("Coded by Ana Ruiz and Bob Lee (1 of 2 done)")
    _no_violations(page, axe, "workbench with the sample mark")
    page.locator("body").click()
    for key in ["/", *"integrations", "Enter", "Control+Enter"]:
        page.keyboard.press(key)
    expect(page.get_by_text("The queue is empty")).to_be_visible()
    context.close()

    lead = make_user(Role.ADMIN, name="Lea Lead")
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    _sign_in(page, live_server, lead.email)
    page.goto(f"{live_server}/coding/agreement")
    case = page.locator("[data-disagreement]")
    expect(case.locator("thead")).to_contain_text("Ana Ruiz")
    expect(case.locator("thead")).to_contain_text("Bob Lee")
    expect(case.locator("tbody")).to_contain_text("Price too high")
    expect(case.locator("tbody")).to_contain_text("Integrations")
    _no_violations(page, axe, "agreement page with a disagreement")
    case.get_by_label("Integrations").check()
    case.get_by_role("button", name="Resolve").click()
    expect(page.get_by_text("Disagreement resolved")).to_be_visible()
    expect(page.get_by_text("No open disagreements.")).to_be_visible()
    _no_violations(page, axe, "agreement page after resolving")
    db.session.expire_all()
    final = db.session.scalars(select(Coding).where(Coding.coder_key == FINAL)).all()
    assert [c.reason_code.code for c in final] == ["product.integration"]
    context.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_a_merge_shows_its_counts_asks_first_and_is_undone(browser, live_server, make_user, respond, width):  # noqa: F811
    from app.coding.service import CodeChoice, set_person_codes
    from tests.survey_helpers import NOW

    analyst = make_user(Role.ANALYST, name="Ana")
    set_person_codes(
        respond("They offered a discount"), analyst, [CodeChoice(_code_id("price.discount"))], now=NOW
    )
    db.session.commit()
    axe = Axe()
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    _sign_in(page, live_server, analyst.email)
    page.goto(f"{live_server}/codebook/{_code_id('price.discount')}")
    page.get_by_label("Merge into").select_option(str(_code_id("price.too_high")))
    page.get_by_role("button", name="Merge", exact=True).click()
    expect(page.get_by_role("row", name="answers recoded 1")).to_be_visible()
    _no_violations(page, axe, "merge confirm page")
    assert _codes_of("price.discount") == 1  # nothing moved yet
    page.get_by_role("button", name="Merge price.discount").click()
    expect(page.get_by_text("price.discount merged into price.too_high")).to_be_visible()
    assert _codes_of("price.discount") == 0
    page.goto(f"{live_server}/codebook/{_code_id('price.discount')}")
    page.get_by_role("button", name="Undo").click()
    expect(page.get_by_text("Undone: price.discount is back as it was.")).to_be_visible()
    _no_violations(page, axe, "code page after undo")
    assert _codes_of("price.discount") == 1
    context.close()


def _codes_of(code: str) -> int:
    db.session.expire_all()
    return len(db.session.scalars(select(Coding).join(ReasonCode).where(ReasonCode.code == code)).all())
