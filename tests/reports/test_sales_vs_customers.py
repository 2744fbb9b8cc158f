"""Sales said vs customers said on a hand-made data set (period 2026-08-01 to 2026-10-31), by category.

  deal  owner  CRM reason (mapped)        customer's main reason       result
  A     Ann    Price → price.too_high     Price (price.too_high)       agree (price)
  B     Ann    Price → price.too_high     Timing (timing.priorities)   mismatch price → timing ($3,000)
  C     Bob    Budget → timing.budget     Timing (timing.priorities)   agree (timing)
  D     Bob    Price → price.too_high     Timing (timing.priorities)   mismatch price → timing ($1,000)
  E     Bob    Other stuff (not mapped)   Price                        not mapped
  F     Bob    Price                      no answer                    not compared
Agreement 2 of 4 = 50 %; Ann 1 of 2, Bob 1 of 2.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from app.auth.models import Role
from app.codebook.models import ReasonCode
from app.crm.models import LossReasonMapping
from app.extensions import db
from app.reports.filters import ReportFilters
from app.reports.sales_vs_customers import sales_vs_customers_report

PERIOD = ReportFilters(start=date(2026, 8, 1), end=date(2026, 10, 31))


def _code_id(code: str) -> int:
    return db.session.scalar(db.select(ReasonCode.id).where(ReasonCode.code == code))


@pytest.fixture
def deals(respond, make_opportunity):
    def deal(name, owner, reason, amount):
        return make_opportunity(
            name=name,
            owner=owner,
            crm_loss_reason=reason,
            amount=Decimal(amount),
            close_date=date(2026, 9, 1),
        )

    a = deal("A", "Ann", "Price", 2000)
    b = deal("B", "Ann", "Price", 3000)
    c = deal("C", "Bob", "Budget", 500)
    d = deal("D", "Bob", "Price", 1000)
    e = deal("E", "Bob", "Other stuff", 800)
    deal("F", "Bob", "Price", 900)
    respond("Too dear", main="price", opportunity=a)
    respond("Not this year", main="timing", opportunity=b)
    respond("Other projects first", main="timing", opportunity=c)
    respond("Reorganisation", main="timing", opportunity=d)
    respond("Cheaper", main="price", opportunity=e)
    db.session.add_all(
        [
            LossReasonMapping(raw_value="Price", reason_code_id=_code_id("price.too_high")),
            LossReasonMapping(raw_value="Budget", reason_code_id=_code_id("timing.budget")),
            LossReasonMapping(raw_value="Other stuff", reason_code_id=None),
        ]
    )
    db.session.commit()
    return {"B": b, "D": d}


def test_agreement_overall_per_owner_and_the_matrix(deals):
    report = sales_vs_customers_report(PERIOD)
    assert (report.compared, report.agreed, report.not_mapped) == (4, 2, 1)
    assert report.rate == 0.5
    assert report.matrix == {("price", "price"): 1, ("price", "timing"): 2, ("timing", "timing"): 1}
    assert [c.code for c in report.sales_categories] == ["price", "timing"]
    assert [(o.owner, o.compared, o.agreed) for o in report.owners] == [("Ann", 2, 1), ("Bob", 2, 1)]


def test_the_biggest_mismatch_comes_with_its_largest_deals_as_examples(deals):
    report = sales_vs_customers_report(PERIOD)
    assert len(report.mismatches) == 1
    mismatch = report.mismatches[0]
    assert (mismatch.sales.code, mismatch.customer.code, mismatch.deals) == ("price", "timing", 2)
    assert [(deal.name, said) for deal, said in mismatch.examples] == [
        ("B", "Other priorities"),
        ("D", "Other priorities"),
    ]


def test_owner_filter_narrows_the_comparison(deals):
    report = sales_vs_customers_report(PERIOD.with_(owner="Bob"))
    assert (report.compared, report.agreed, report.not_mapped) == (2, 1, 1)


def test_the_page_and_its_csv_exports(deals, login, make_user):
    client = login(make_user(Role.ADMIN))
    args = "from=2026-08-01&to=2026-10-31"
    page = client.get(f"/reports/sales-vs-customers?{args}").get_data(as_text=True)
    assert "50 %" in page
    assert "2 ✓" not in page  # price → timing is a mismatch, not marked
    assert "1 ✓" in page
    matrix = client.get(f"/reports/sales-vs-customers.csv?{args}").get_data(as_text=True)
    assert matrix.splitlines()[1:] == ["Price and commercial terms,1,2", "Timing and budget,0,1"]
    owners = client.get(f"/reports/sales-vs-customers.csv?{args}&table=owners").get_data(as_text=True)
    assert owners.splitlines()[1:] == ["Ann,2,1,50.0", "Bob,2,1,50.0"]
    mismatches = client.get(f"/reports/sales-vs-customers.csv?{args}&table=mismatches").get_data(as_text=True)
    assert "B | D" in mismatches


def test_with_no_data_the_report_shows_zeros_not_errors(login, make_user):
    client = login(make_user(Role.ANALYST))
    response = client.get("/reports/sales-vs-customers")
    assert response.status_code == 200
    assert "No deal to compare" in response.get_data(as_text=True)


@pytest.mark.parametrize("scan", [1, 40])
def test_every_mismatch_gets_its_examples_even_when_another_holds_the_largest_deals(
    deals, make_opportunity, respond, scan
):
    # G: Ann, CRM "Budget" (timing) but the customer said price; $100, smaller than B ($3,000) and D ($1,000).
    g = make_opportunity(
        name="G", owner="Ann", crm_loss_reason="Budget", amount=Decimal(100), close_date=date(2026, 9, 1)
    )
    respond("Too dear", main="price", opportunity=g)
    db.session.commit()
    # With scan=1 the first rows read (two: B and D) are all price → timing: timing → price is read after.
    report = sales_vs_customers_report(PERIOD, example_scan=scan)
    assert [(m.sales.code, m.customer.code, m.deals) for m in report.mismatches] == [
        ("price", "timing", 2),
        ("timing", "price", 1),
    ]
    assert [[deal.name for deal, _ in m.examples] for m in report.mismatches] == [["B", "D"], ["G"]]


def test_a_customer_reason_sales_cannot_record_is_shown_apart_and_left_out_of_the_rate(
    deals, make_opportunity, respond, login, make_user
):
    """H: Ann, CRM "Price", the customer's main reason coded "competitor.features": no CRM loss reason maps
    to the "Competitor strengths" theme, so the deal could never agree; it must not pull the rate down."""
    from app.coding.models import OpportunityReason

    h = make_opportunity(
        name="H", owner="Ann", crm_loss_reason="Price", amount=Decimal(700), close_date=date(2026, 9, 1)
    )
    respond("They had the feature", main="price", opportunity=h)
    primary = db.session.scalar(
        db.select(OpportunityReason).where(
            OpportunityReason.opportunity_id == h.id, OpportunityReason.is_primary.is_(True)
        )
    )
    primary.reason_code_id = _code_id("competitor.features")
    db.session.commit()

    report = sales_vs_customers_report(PERIOD)
    assert (report.compared, report.agreed, report.rate) == (4, 2, 0.5)  # not 2 of 5
    assert [(category.label, n) for category, n in report.not_comparable] == [("Competitor strengths", 1)]
    assert "competitor" not in [c.code for c in report.customer_categories]
    assert [(o.owner, o.compared, o.agreed) for o in report.owners] == [("Ann", 2, 1), ("Bob", 2, 1)]
    page = " ".join(
        login(make_user(Role.ANALYST))
        .get("/reports/sales-vs-customers?from=2026-08-01&to=2026-10-31")
        .get_data(as_text=True)
        .split()
    )
    assert "50 %" in page
    assert "Not compared: no CRM counterpart" in page
    assert "Competitor strengths: 1 deal" in page
