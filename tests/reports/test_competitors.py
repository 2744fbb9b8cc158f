"""The competitors report on a hand-made data set (lost 2026-08-01 to 2026-10-31; EUR in August: 1.10).

  A  Acme   EUR 1,000 08-10 Enterprise Ann  price (primary), support; rated 2 on the web 09-01, then 4 by
                                            phone 09-15: counts once, with 4                    → $1,100
  B  Acme   USD 2,000 10-05 Mid-Market Bob  price (primary); rated 1; requalified, accepted, won → $2,000
  C  Acme   GBP   500 10-20 Mid-Market Bob  timing (primary), integrations; a rating of 1 in an
                                            unfinished response (not counted); requalified, pending
                                                                                      → not converted
  D  Globex USD   700 10-01 Mid-Market Bob  support; rated 2; requalified, rejected            → $700
  E  no competitor, USD 300, 09-01;  F  Acme, lost 07-15 (before the period);  G  Acme, won
Acme: 3 deals, $3,100 + £500 not converted; reasons price 2, then three with 1 deal: integrations,
support (kept, by code) and timing (the fourth, left out); 2 rated, average (4 + 1) / 2 = 2.5,
1 unhappy (rated 2 or less); came back: 2 requalified, 1 accepted, 1 won.
Globex: 1 deal, $700; support 1; 1 rated, 2.0, 1 unhappy; 1 requalified, 0 accepted, 0 won.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from app.auth.models import Role
from app.codebook.models import ReasonCode
from app.coding.models import OpportunityReason
from app.coding.theme_marks import mark_first_in_theme
from app.crm.models import Competitor, Origin
from app.extensions import db
from app.money.service import set_rate
from app.pipeline.models import Requalification, RequalificationSource, RequalificationStatus
from app.reports.competitors import competitor_deals, competitors_report
from app.reports.filters import ReportFilters
from surveys.builder import QuestionSpec
from surveys.models import Answer, Response, ResponseChannel, ResponseStatus, Signal
from surveys.models import QuestionKind as K
from tests.survey_helpers import published_survey

NOW = datetime(2026, 11, 28, tzinfo=UTC)
PERIOD = {"start": date(2026, 8, 1), "end": date(2026, 10, 31)}
ARGS = "from=2026-08-01&to=2026-10-31"


@pytest.fixture
def lost_to_competitors(make_account, make_opportunity):
    survey = published_survey(
        [QuestionSpec(K.RATING, "How is your chosen vendor?", page=1, signal=Signal.VENDOR_SATISFACTION)],
        name="Vendor",
    )
    version = survey.published
    question = version.questions[0]
    acme, globex = Competitor(name="Acme"), Competitor(name="Globex")
    db.session.add_all([acme, globex])
    db.session.flush()
    enterprise = make_account(segment="Enterprise", region="EMEA")
    mid = make_account(segment="Mid-Market", region="Americas")

    def deal(name, account, competitor, amount, close, owner="Bob", currency="USD", **fields):
        return make_opportunity(
            account,
            name=name,
            competitor_id=competitor.id if competitor else None,
            amount=Decimal(amount),
            currency=currency,
            close_date=close,
            owner=owner,
            **fields,
        )

    a = deal("A", enterprise, acme, 1000, date(2026, 8, 10), owner="Ann", currency="EUR")
    b = deal("B", mid, acme, 2000, date(2026, 10, 5))
    c = deal("C", mid, acme, 500, date(2026, 10, 20), currency="GBP")
    d = deal("D", mid, globex, 700, date(2026, 10, 1))
    deal("E", mid, None, 300, date(2026, 9, 1))
    f = deal("F", mid, acme, 5000, date(2026, 7, 15))
    g = deal("G", mid, acme, 4000, date(2026, 9, 1), is_won=True, stage="Closed Won")
    codes = {code.code: code for code in db.session.scalars(db.select(ReasonCode))}

    def reasons(opportunity, *names):
        for i, name in enumerate(names):
            db.session.add(
                OpportunityReason(
                    opportunity_id=opportunity.id, reason_code_id=codes[name].id, is_primary=i == 0
                )
            )

    reasons(a, "price.too_high", "support")
    reasons(b, "price.too_high")
    reasons(c, "timing.priorities", "product.integration")
    reasons(d, "support")
    reasons(f, "price.too_high")
    reasons(g, "price.too_high")
    db.session.flush()
    mark_first_in_theme()  # as refresh_opportunity_reasons would

    def rate(opportunity, rating, day, *, complete=True, channel=ResponseChannel.PHONE):
        response = Response(
            version_id=version.id,
            opportunity_id=opportunity.id,
            channel=channel,
            status=ResponseStatus.COMPLETE if complete else ResponseStatus.IN_PROGRESS,
            started_at=day,
            updated_at=day,
            completed_at=day if complete else None,
        )
        db.session.add(response)
        db.session.flush()
        db.session.add(Answer(response_id=response.id, question_id=question.id, number=rating))

    rate(a, 2, datetime(2026, 9, 1, tzinfo=UTC), channel=ResponseChannel.WEB)
    rate(a, 4, datetime(2026, 9, 15, tzinfo=UTC))
    rate(b, 1, datetime(2026, 10, 10, tzinfo=UTC))
    rate(c, 1, datetime(2026, 10, 25, tzinfo=UTC), complete=False)
    rate(d, 2, datetime(2026, 10, 2, tzinfo=UTC))
    rate(f, 1, datetime(2026, 8, 2, tzinfo=UTC))

    def requalify(opportunity, status, recycled=None):
        db.session.add(
            Requalification(
                account_id=opportunity.account_id,
                opportunity_id=opportunity.id,
                source=RequalificationSource.SURVEY,
                status=status,
                created_at=NOW,
                updated_at=NOW,
                recycled_opportunity_id=recycled.id if recycled else None,
            )
        )
        db.session.flush()

    won_back = make_opportunity(
        b.account,
        name="B (recycled)",
        is_closed=True,
        is_won=True,
        stage="Closed Won",
        origin=Origin.RECYCLED,
    )
    requalify(b, RequalificationStatus.ACCEPTED, won_back)
    requalify(c, RequalificationStatus.PENDING)
    requalify(d, RequalificationStatus.REJECTED)
    set_rate(month=date(2026, 8, 1), currency="EUR", rate=Decimal("1.10"), now=NOW)
    db.session.commit()
    return {"acme": acme, "globex": globex}


def _row(report, name):
    return next(row for row in report.rows if row.name == name)


def test_each_competitor_deals_amount_reasons_satisfaction_and_comebacks(lost_to_competitors):
    report = competitors_report(ReportFilters(**PERIOD))
    assert (report.lost_deals, report.without_competitor) == (5, 1)
    assert [row.name for row in report.rows] == ["Acme", "Globex"]
    acme = _row(report, "Acme")
    assert acme.deals == 3
    assert acme.money.total == Decimal("3100.00")
    assert [(n.currency, n.amount, n.deals) for n in acme.money.not_converted] == [
        ("GBP", Decimal("500.00"), 1)
    ]
    assert [(r.code, r.deals) for r in acme.reasons] == [  # rolled up into their themes
        ("price", 2),
        ("product", 1),
        ("support", 1),
    ]
    assert (acme.rated, acme.average_rating, acme.unhappy) == (2, pytest.approx(2.5), 1)
    assert (acme.requalified, acme.accepted, acme.won) == (2, 1, 1)
    globex = _row(report, "Globex")
    assert (globex.deals, globex.money.total, [r.code for r in globex.reasons]) == (
        1,
        Decimal("700.00"),
        ["support"],
    )
    assert (globex.rated, globex.average_rating, globex.unhappy) == (1, pytest.approx(2.0), 1)
    assert (globex.requalified, globex.accepted, globex.won) == (1, 0, 0)
    assert [(n.currency, n.deals) for n in report.not_converted] == [("GBP", 1)]


def test_filters_by_owner_segment_and_band_and_an_empty_period(lost_to_competitors):
    bob = competitors_report(ReportFilters(**PERIOD, owner="Bob"))
    assert [(r.name, r.deals, r.money.total) for r in bob.rows] == [
        ("Acme", 2, Decimal("2000.00")),
        ("Globex", 1, Decimal("700.00")),
    ]
    enterprise = competitors_report(ReportFilters(**PERIOD, segment="Enterprise"))
    assert [(r.name, r.deals, r.rated, r.requalified) for r in enterprise.rows] == [("Acme", 1, 1, 0)]
    small = competitors_report(ReportFilters(**PERIOD, band="small"))  # under 10,000; C has no rate
    assert [(r.name, r.deals) for r in small.rows] == [("Acme", 2), ("Globex", 1)]
    empty = competitors_report(ReportFilters(start=date(2025, 1, 1), end=date(2025, 1, 31)))
    assert (empty.rows, empty.lost_deals, empty.without_competitor) == ([], 0, 0)


def test_drill_down_to_one_competitors_deals(lost_to_competitors):
    deals = competitor_deals(ReportFilters(**PERIOD), lost_to_competitors["acme"])
    assert [(d.name, d.converted, d.main_reason, d.rating, d.came_back) for d in deals] == [
        ("C", None, "Other priorities", None, "pending"),
        ("B", Decimal("2000.00"), "Price too high", 1, "won"),
        ("A", Decimal("1100.00"), "Price too high", 4, None),
    ]


def test_the_pages_and_their_csv(lost_to_competitors, login, make_user):
    lost_to_competitors["acme"].name = "=Acme"
    db.session.commit()
    client = login(make_user(Role.SALES_MANAGER))
    page = client.get(f"/reports/competitors?{ARGS}")
    assert page.status_code == 200
    assert "$3,100" in page.get_data(as_text=True)
    csv = client.get(f"/reports/competitors.csv?{ARGS}").get_data(as_text=True)
    assert csv.startswith("\ufeffCompetitor,")
    assert csv.splitlines()[1] == (
        "'=Acme,3,3100.00,500.00 GBP (1),"
        "Price and commercial terms (2); Product fit (1); Support and service (1),2,2.5,1,2,1,1"
    )
    acme_id = lost_to_competitors["acme"].id
    detail = client.get(f"/reports/competitors/{acme_id}?{ARGS}&owner=Bob").get_data(as_text=True)
    assert ">B</a>" in detail
    assert ">A</a>" not in detail
    detail_csv = client.get(f"/reports/competitors/{acme_id}.csv?{ARGS}").get_data(as_text=True)
    assert detail_csv.splitlines()[1].startswith("C,")
    assert client.get(f"/reports/competitors/999999?{ARGS}").status_code == 404


def test_callers_cannot_read_the_new_reports(login, make_user):
    client = login(make_user(Role.CALLER))
    for path in (
        "/reports/competitors",
        "/reports/competitors.csv",
        "/reports/sales-follow-up",
        "/reports/sales-follow-up.csv",
        "/reports/funnel/won",
        "/reports/funnel.csv",
    ):
        assert client.get(path).status_code == 403, path


def test_readers_open_the_new_reports_with_no_data(login, make_user):
    for role in (Role.ADMIN, Role.SALES_MANAGER, Role.ANALYST):
        client = login(make_user(role))
        for path in ("/reports/competitors", "/reports/sales-follow-up", "/reports/funnel/open"):
            assert client.get(path).status_code == 200, (role, path)
        index = client.get("/reports").get_data(as_text=True)
        assert "/reports/competitors" in index
        assert "/reports/sales-follow-up" in index
        client.post("/logout")


def test_without_a_satisfaction_question_no_deal_is_rated(make_opportunity):
    acme = Competitor(name="Acme")
    db.session.add(acme)
    db.session.commit()
    make_opportunity(amount=Decimal("1000"), close_date=date(2026, 10, 5), competitor=acme)
    make_opportunity(amount=Decimal("500"), close_date=date(2026, 10, 6), competitor=acme)
    make_opportunity(amount=Decimal("300"), close_date=date(2026, 10, 7))
    report = competitors_report(ReportFilters(**PERIOD))
    (row,) = report.rows
    assert (report.lost_deals, report.without_competitor) == (3, 1)
    assert (row.name, row.deals, row.money.total, row.money.converted_deals) == (
        "Acme",
        2,
        Decimal("1500.00"),
        2,
    )
    assert (row.rated, row.average_rating, row.unhappy) == (0, None, 0)
    assert (row.requalified, row.accepted, row.won) == (0, 0, 0)
