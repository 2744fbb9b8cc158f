"""A deal is shown in its own currency (issue #18): a €5,500 requalification reads "€5,500", not "$5,500",
on Accepted and recycled and on its detail page; sums stay in the reporting currency. Money is written by one
function, which needs the currency: no template prints a symbol by hand or leaves the currency out."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from app.auth.models import Role
from app.crm.models import Origin
from app.db_types import utcnow
from app.extensions import db
from app.money.service import set_rate
from app.pipeline.models import Requalification, RequalificationStatus
from app.templating import format_money

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = [
    path
    for folder in ("app", "campaigns", "surveys")
    for path in (ROOT / folder).rglob("*.html")
    if "templates" in path.parts
]


@pytest.fixture
def euro_deal(respond, make_opportunity, make_account, make_user):
    """A lost EUR deal, requalified and accepted for €5,500 expected; no recycled deal in the CRM yet."""
    opportunity = make_opportunity(
        owner="Dana Owner", amount=Decimal(5000), currency="EUR", account=make_account(name="Eurco")
    )
    respond(opportunity=opportunity, now=utcnow())
    requalification = db.session.scalar(
        select(Requalification).where(Requalification.opportunity_id == opportunity.id)
    )
    requalification.accept(reviewer=make_user(Role.SALES_MANAGER), now=utcnow())
    requalification.owner = "Dana Owner"
    requalification.expected_amount = Decimal(5500)
    db.session.commit()
    return requalification


def test_an_accepted_euro_requalification_reads_in_euros_on_both_pages(client, login, make_user, euro_deal):
    login(make_user(Role.SALES_MANAGER))
    recycled = client.get("/pipeline/recycled").get_data(as_text=True)
    detail = client.get(f"/pipeline/requalifications/{euro_deal.id}").get_data(as_text=True)
    for page in (recycled, detail):
        assert "€5,500" in page
        assert "$5,500" not in page


def test_the_recycled_deal_once_known_shows_its_own_amount_and_currency_and_the_totals_convert(
    client, login, make_user, make_opportunity, euro_deal
):
    won = make_opportunity(
        euro_deal.opportunity.account,
        name="Eurco (recycled)",
        amount=Decimal(5500),
        currency="EUR",
        close_date=date(2026, 11, 20),
        is_closed=True,
        is_won=True,
        stage="Closed Won",
        origin=Origin.RECYCLED,
        recycled_from_id=euro_deal.opportunity_id,
    )
    euro_deal.recycled_opportunity_id = won.id
    set_rate(
        month=date(2026, 11, 1), currency="EUR", rate=Decimal("1.1016"), now=utcnow() - timedelta(days=1)
    )
    db.session.commit()
    login(make_user(Role.SALES_MANAGER))
    page = " ".join(client.get("/pipeline/recycled").get_data(as_text=True).split())
    assert "€5,500" in page  # the deal's row
    assert "$6,058.80" in page  # the recovered revenue by campaign and by owner, converted
    assert euro_deal.status is RequalificationStatus.ACCEPTED


def test_money_needs_its_currency():
    assert format_money(Decimal(5500), "EUR") == "€5,500"
    assert format_money(Decimal("6058.8"), "USD") == "$6,058.80"
    with pytest.raises(TypeError):
        format_money(Decimal(5500))  # type: ignore[call-arg]


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_template_writes_a_currency_by_hand(template):
    text = template.read_text()
    # A symbol before a figure or a template expression ("$5", "€{{"), outside JavaScript template strings.
    assert not re.search(r"[$€£¥](\d|\{\{)", text)
    # The money filter always says which currency: a deal's own, or the reporting currency for a sum.
    assert not re.search(r"\|\s*money\s*(?!\s*\()", text)
