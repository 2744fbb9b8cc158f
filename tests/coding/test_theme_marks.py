"""Each deal's first reason in each theme stays marked, whatever is coded and however the codebook's tree
changes: the loss-reasons report's theme counts (read from the marks) are the distinct (deal, theme) pairs."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask_migrate import upgrade
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from app.auth.models import Role
from app.codebook.models import ReasonCode
from app.codebook.service import create_code, ensure_default_codebook, get_code, merge_codes, move_code
from app.codebook.themes import themes_by_code
from app.coding.models import OpportunityReason
from app.coding.service import CodeChoice, set_person_codes
from app.crm.models import Account, Opportunity
from app.errors import Conflict, ValidationError
from app.extensions import db
from app.reports.filters import ReportFilters
from app.reports.loss_reasons import loss_reasons_report

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PERIOD = ReportFilters(start=date(2026, 8, 1), end=date(2026, 10, 31))
DEALS = 4
# Few codes of few themes, so that the steps often meet: a deal may give a theme and a finer code of it, or
# two siblings, and a move or a merge often takes a code a deal gave into or out of another of its themes.
CODES = ("price", "price.too_high", "price.discount", "product", "product.fit", "support", "timing.budget")
PARENTS = (None, "price", "product", "support", "price.too_high")

codings = st.tuples(
    st.just("code"), st.integers(0, DEALS - 1), st.sets(st.sampled_from(CODES), min_size=1, max_size=4)
)
moves = st.tuples(st.just("move"), st.sampled_from(CODES), st.sampled_from(PARENTS))
merges = st.tuples(st.just("merge"), st.sampled_from(CODES), st.sampled_from(CODES))
steps = st.lists(st.one_of(codings, codings, moves, merges), min_size=1, max_size=8)


@pytest.fixture
def analyst(make_user):
    return make_user(Role.ANALYST)


@pytest.fixture
def answers(respond, make_opportunity):
    """One free-text answer per lost deal of the period, for an analyst to code."""
    return [
        respond(f"Answer {n}", main="else", opportunity=make_opportunity(amount=Decimal(1000 * (n + 1))))
        for n in range(DEALS)
    ]


def _pairs_by_theme() -> dict[str, set[int]]:
    """The distinct (deal, theme) pairs, worked out from every deal's reasons and the tree as it is now."""
    themes = themes_by_code()
    found: dict[str, set[int]] = defaultdict(set)
    for deal_id, code_id in db.session.execute(
        select(OpportunityReason.opportunity_id, OpportunityReason.reason_code_id)
    ):
        found[themes[code_id].code].add(deal_id)
    return dict(found)


def _apply(step, answers, analyst) -> None:
    kind, first, second = step
    try:
        if kind == "code":
            choices = [CodeChoice(get_code(code).id) for code in sorted(second)]
            set_person_codes(answers[first], analyst, choices, now=NOW)
        elif kind == "move":
            code = get_code(first)
            move_code(code, get_code(second) if second else None)
        else:
            merge_codes(get_code(first), get_code(second))
    except (ValidationError, Conflict, AttributeError):
        pass  # a move under itself, a code renamed by an earlier move, a merge into a retired code: refused


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps)
@example([("code", 0, {"price.too_high", "product.fit"}), ("move", "product.fit", "price")])
@example([("code", 1, {"price.too_high", "price.discount"}), ("move", "price.too_high", None)])
@example([("code", 2, {"support", "timing.budget"}), ("merge", "timing.budget", "support")])
def test_theme_counts_from_the_marks_are_the_distinct_deal_theme_pairs(answers, analyst, steps):
    try:
        for step in steps:
            _apply(step, answers, analyst)
        db.session.expire_all()
        marked = Counter(
            (deal_id, themes_by_code()[code_id].id)
            for deal_id, code_id in db.session.execute(
                select(OpportunityReason.opportunity_id, OpportunityReason.reason_code_id).where(
                    OpportunityReason.first_in_theme.is_(True)
                )
            )
        )
        assert set(marked.values()) <= {1}  # at most one first reason per deal and theme...
        expected = _pairs_by_theme()
        assert sum(marked.values()) == sum(len(deals) for deals in expected.values())  # ...and one in each
        report = loss_reasons_report(PERIOD)
        assert {bar.code: bar.deals for bar in report.themes} == {
            theme: len(deals) for theme, deals in expected.items()
        }
    finally:
        db.session.rollback()


def test_a_code_moved_to_another_theme_counts_its_deals_there(answers, analyst):
    """A deal coded price.too_high and product.fit: moving product.fit under price makes it one deal of
    price, not one of price and one of product."""
    codes = [CodeChoice(get_code("price.too_high").id), CodeChoice(get_code("product.fit").id)]
    set_person_codes(answers[0], analyst, codes, now=NOW)
    db.session.commit()
    assert {t.code: t.deals for t in loss_reasons_report(PERIOD).themes} == {"price": 1, "product": 1}

    move_code(get_code("product.fit"), get_code("price"))
    db.session.commit()
    assert {t.code: t.deals for t in loss_reasons_report(PERIOD).themes} == {"price": 1}

    move_code(get_code("price.fit"), None)  # back out, as a theme of its own
    db.session.commit()
    assert {t.code: t.deals for t in loss_reasons_report(PERIOD).themes} == {"price": 1, "fit": 1}


def test_a_merge_across_themes_counts_each_deal_once_in_the_survivors_theme(answers, analyst):
    """timing (with its sub-codes) merged into support: the deal that gave support and a timing code
    counts once in support."""
    set_person_codes(answers[0], analyst, [CodeChoice(get_code("timing.budget").id)], now=NOW)
    set_person_codes(answers[1], analyst, [CodeChoice(get_code("support").id)], now=NOW)
    extra = create_code("budget_cut", "Budget cut", parent=get_code("timing"))
    set_person_codes(answers[1], analyst, [CodeChoice(extra.id), CodeChoice(get_code("support").id)], now=NOW)
    db.session.commit()

    merge_codes(get_code("timing"), get_code("support"))  # timing's codes move under support
    db.session.commit()
    themes = {t.code: t.deals for t in loss_reasons_report(PERIOD).themes}
    assert themes == {"support": 2}


def test_the_migration_marks_the_first_reason_of_each_theme_of_existing_deals(make_app, tmp_path):
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'before.sqlite3'}")
    with app.app_context():
        upgrade(revision="0044_languages")
        ensure_default_codebook()
        codes = {code.code: code.id for code in db.session.scalars(select(ReasonCode))}
        account = Account(crm_source="salesforce", crm_id="0011", name="Acme")
        deals = [
            Opportunity(
                account=account, crm_source="salesforce", crm_id=f"006{n}", name=f"D{n}", stage="Lost"
            )
            for n in (1, 2)
        ]
        db.session.add_all(deals)
        db.session.flush()
        first, second = (deal.id for deal in deals)
        given_codes = {
            first: ("price", "price.too_high", "support"),
            second: ("price.discount", "price.too_high"),
        }
        for deal_id, names in given_codes.items():
            for name in names:
                db.session.execute(
                    text(
                        "INSERT INTO opportunity_reasons (opportunity_id, reason_code_id, mentions, "
                        "is_primary, updated_at) VALUES (:deal, :code, 1, false, :now)"
                    ),
                    {"deal": deal_id, "code": codes[name], "now": NOW},
                )
        db.session.commit()
        upgrade(revision="heads")
        marked = db.session.execute(
            text("SELECT opportunity_id, reason_code_id FROM opportunity_reasons WHERE first_in_theme")
        ).all()
    assert sorted(marked) == sorted(
        [
            (first, min(codes["price"], codes["price.too_high"])),
            (first, codes["support"]),
            (second, min(codes["price.discount"], codes["price.too_high"])),
        ]
    )
