"""Loss reasons on a small hand-made data set; every expected figure is worked out by hand below.

Deals (period 2026-08-01 to 2026-10-31; EUR rate for August 2026: 1.10; no GBP rate):
  A  EUR 1,000  closed 2026-08-10  Enterprise  Ann  web: price; phone: price + support  → $1,100
  B  USD 2,000  closed 2026-10-05  Mid-Market  Bob  phone: price                         → $2,000
  C  GBP   500  closed 2026-10-20  Mid-Market  Bob  phone: timing                        → not converted
  D  USD   700  closed 2026-10-01  Mid-Market  Bob  no answer                            → no reason
  E  USD 5,000  closed 2026-07-15 (before the period): price
  F  won, closed 2026-09-01: price
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from werkzeug.datastructures import MultiDict

from app.auth.models import Role
from app.codebook.models import ReasonCode
from app.crm.models import Opportunity
from app.extensions import db
from app.money.service import month_start, set_rate
from app.reports.filters import ReportFilters, parse_filters
from app.reports.loss_reasons import loss_reasons_report, reason_drill_down
from surveys.builder import OptionSpec, QuestionSpec
from surveys.models import QuestionKind as K
from surveys.models import ResponseChannel
from surveys.responding import record_phone_response
from tests.survey_helpers import published_survey

NOW = datetime(2026, 11, 28, tzinfo=UTC)
PERIOD = {"start": date(2026, 8, 1), "end": date(2026, 10, 31)}


def _code(code: str) -> ReasonCode:
    return db.session.scalar(db.select(ReasonCode).where(ReasonCode.code == code))


@pytest.fixture
def deals(respond, make_opportunity, make_account):
    enterprise = make_account(segment="Enterprise", region="EMEA")
    mid = make_account(segment="Mid-Market", region="Americas")
    a = make_opportunity(
        enterprise, name="A", amount=Decimal(1000), currency="EUR", close_date=date(2026, 8, 10), owner="Ann"
    )
    b = make_opportunity(mid, name="B", amount=Decimal(2000), close_date=date(2026, 10, 5), owner="Bob")
    c = make_opportunity(
        mid, name="C", amount=Decimal(500), currency="GBP", close_date=date(2026, 10, 20), owner="Bob"
    )
    d = make_opportunity(mid, name="D", amount=Decimal(700), close_date=date(2026, 10, 1), owner="Bob")
    e = make_opportunity(mid, name="E", amount=Decimal(5000), close_date=date(2026, 7, 15), owner="Bob")
    f = make_opportunity(mid, name="F", is_won=True, stage="Closed Won", close_date=date(2026, 9, 1))
    web = respond('=HYPERLINK("http://x") far too expensive', main="price", opportunity=a)
    web.response.channel = ResponseChannel.WEB
    respond("Their support was better", main="price", factors=("support",), opportunity=a)
    respond("Budget went elsewhere", main="price", opportunity=b)
    respond("Not this year", main="timing", opportunity=c)
    respond("Cheaper", main="price", opportunity=e)
    respond("Cheaper", main="price", opportunity=f)
    set_rate(month=date(2026, 8, 1), currency="EUR", rate=Decimal("1.10"), now=NOW)
    db.session.commit()
    return {"A": a, "B": b, "C": c, "D": d}


def _bars(report, weight="count"):
    return [(bar.code, bar.deals, bar.amount) for bar in report.bars]


def test_each_deal_counts_once_per_reason_across_web_and_phone(deals):
    report = loss_reasons_report(ReportFilters(**PERIOD))
    assert report.currency == "USD"
    assert report.lost_deals == 4  # A, B, C, D: E closed before the period, F was won
    assert report.deals_with_reasons == 3  # D gave no answer
    assert _bars(report) == [
        ("price.too_high", 2, Decimal("3100.00")),  # A (1,000 € × 1.10) + B; A's web and phone answers once
        ("support", 1, Decimal("1100.00")),
        ("timing.priorities", 1, Decimal("0")),  # C's pounds have no rate
    ]
    assert report.amount == Decimal("3100.00")
    assert [(n.currency, n.amount, n.deals) for n in report.not_converted] == [("GBP", Decimal(500), 1)]


def test_the_trend_shows_every_month_with_empty_ones_as_zero(deals):
    report = loss_reasons_report(ReportFilters(**PERIOD))
    assert [bar.code for bar in report.trend_reasons] == ["price.too_high", "support", "timing.priorities"]
    assert [(r.month, r.deals, r.amount, r.by_reason) for r in report.trend] == [
        (date(2026, 8, 1), 1, Decimal("1100.00"), (1, 1, 0)),
        (date(2026, 9, 1), 0, Decimal(0), (0, 0, 0)),
        (date(2026, 10, 1), 2, Decimal("2000.00"), (1, 0, 1)),
    ]


def test_weighted_by_amount_the_biggest_amount_comes_first(deals, make_opportunity, respond):
    big = make_opportunity(name="G", amount=Decimal(9000), close_date=date(2026, 9, 3))
    respond("Not now", main="timing", opportunity=big)
    by_count = loss_reasons_report(ReportFilters(**PERIOD))
    by_amount = loss_reasons_report(ReportFilters(**PERIOD, weight="amount"))
    assert [b.code for b in by_count.bars][:2] == ["price.too_high", "timing.priorities"]  # 2 deals each
    assert [(b.code, b.amount) for b in by_amount.bars] == [
        ("timing.priorities", Decimal("9000.00")),
        ("price.too_high", Decimal("3100.00")),
        ("support", Decimal("1100.00")),
    ]


def test_filters_by_owner_segment_region_competitor_and_amount_band(deals):
    def codes(**kwargs):
        return _bars(loss_reasons_report(ReportFilters(**PERIOD, **kwargs)))

    assert codes(owner="Bob") == [
        ("price.too_high", 1, Decimal("2000.00")),
        ("timing.priorities", 1, Decimal(0)),
    ]
    assert codes(segment="Enterprise") == [
        ("price.too_high", 1, Decimal("1100.00")),
        ("support", 1, Decimal("1100.00")),
    ]
    assert codes(region="Americas") == codes(owner="Bob")
    assert codes(competitor=999) == []
    small = loss_reasons_report(ReportFilters(**PERIOD, band="small"))
    assert small.lost_deals == 3  # A ($1,100), B, D; C has no rate, so no band
    assert [b.code for b in small.bars] == ["price.too_high", "support"]
    assert loss_reasons_report(ReportFilters(**PERIOD, band="medium")).lost_deals == 0


def test_drill_down_lists_the_deals_and_what_the_customers_said(deals):
    drill = reason_drill_down(ReportFilters(**PERIOD), _code("price.too_high"))
    assert [deal.name for deal in drill.deals] == ["B", "A"]  # newest close first
    said = [(v.channel, v.text) for v in drill.verbatims[deals["A"].id]]
    assert ("web", "Price") in said
    assert ("phone", "Their support was better") in said
    assert ("web", '=HYPERLINK("http://x") far too expensive') in said
    assert drill.deals[1].converted == Decimal("1100.00")


def test_bad_filters_are_explained_and_dropped():
    args = MultiDict({"from": "yesterday", "band": "huge", "weight": "x", "competitor": "abc"})
    filters, errors = parse_filters(args, today=date(2026, 11, 28))
    assert len(errors) == 4
    assert (filters.start, filters.end, filters.band, filters.weight) == (
        date(2025, 12, 1),
        date(2026, 11, 28),
        None,
        "count",
    )


def test_the_page_keeps_filters_in_the_url_and_links_each_bar_to_its_deals(deals, login, make_user):
    client = login(make_user(Role.SALES_MANAGER))
    response = client.get("/reports/loss-reasons?from=2026-08-01&to=2026-10-31&owner=Bob")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<svg" in page
    assert "style=" not in page.split("<main", 1)[-1]
    code = _code("price.too_high")
    assert f"/reports/loss-reasons/{code.id}?from=2026-08-01&amp;to=2026-10-31&amp;owner=Bob" in page
    detail = client.get(f"/reports/loss-reasons/{code.id}?from=2026-08-01&to=2026-10-31&owner=Bob")
    assert detail.status_code == 200
    assert "Budget went elsewhere" in detail.get_data(as_text=True)
    assert client.get("/reports/loss-reasons?from=bad").status_code == 400
    assert client.get("/reports/loss-reasons/99999").status_code == 404


def test_csv_exports_have_a_bom_and_guard_formulas(deals, login, make_user):
    client = login(make_user(Role.ANALYST))
    reasons = client.get("/reports/loss-reasons.csv?from=2026-08-01&to=2026-10-31").get_data(as_text=True)
    assert reasons.startswith("\ufeffTheme code,Theme,Code,Reason,Deals,Amount (USD)")
    assert reasons.splitlines()[1].startswith("price,Price and commercial terms,price.too_high,")
    assert reasons.splitlines()[1].endswith(",2,3100.00,66.7")  # 2 of the 3 deals with a reason
    trend = client.get("/reports/loss-reasons.csv?from=2026-08-01&to=2026-10-31&table=trend").get_data(
        as_text=True
    )
    assert "\r\n2026-09,0,0,0,0,0\r\n" in trend  # the empty month is a row of zeros
    deals["B"].name = '=HYPERLINK("http://evil.example")'
    db.session.commit()
    code = _code("price.too_high")
    detail = client.get(f"/reports/loss-reasons/{code.id}.csv?from=2026-08-01&to=2026-10-31")
    text = detail.get_data(as_text=True)
    assert text.startswith(
        "\ufeffTheme code,Theme,Code,Opportunity,Account,Owner,Close date,Amount,Currency,Amount (USD)"
    )
    theme = "price,Price and commercial terms,price.too_high,"
    assert (
        f'\r\n{theme}"\'=HYPERLINK(""http://evil.example"")",Account 2,Bob,2026-10-05,2000.00,USD,2000.00,'
        in text
    )
    assert f"{theme}A,Account 1,Ann,2026-08-10,1000.00,EUR,1100.00," in text
    assert "attachment" in detail.headers["Content-Disposition"]


def test_a_formula_at_the_start_of_a_cell_is_quoted():
    from app.downloads import csv_text

    text = csv_text(["a", "b"], [["=1+1", "+x"], ["-3", "@SUM(A1)"], ["plain", 4]])
    assert text == "\ufeffa,b\r\n'=1+1,'+x\r\n'-3,'@SUM(A1)\r\nplain,4\r\n"


def test_callers_may_not_read_reports(login, make_user):
    client = login(make_user(Role.CALLER))
    assert client.get("/reports/loss-reasons").status_code == 403


def test_the_filter_bar_offers_each_owner_once_in_order(deals, make_opportunity):
    from app.reports.filters import filter_choices

    make_opportunity(name="H", owner="Aaron", close_date=date(2026, 9, 2))
    make_opportunity(name="I", owner="Bob", is_won=True, stage="Closed Won")  # every deal's owner is offered
    assert filter_choices()["owners"] == ["Aaron", "Ann", "Bob"]  # Bob owns four deals, listed once; F none


def test_the_drill_down_comes_a_page_at_a_time_newest_first(deals):
    price = _code("price.too_high")
    first = reason_drill_down(ReportFilters(**PERIOD), price, per_page=1)
    assert (first.total, first.pages, first.has_next, [d.name for d in first.deals]) == (2, 2, True, ["B"])
    assert set(first.verbatims) == {deals["B"].id}  # only the page's deals' answers are read
    second = reason_drill_down(ReportFilters(**PERIOD), price, per_page=1, page=2)
    assert (second.page, second.has_prev, second.has_next, [d.name for d in second.deals]) == (
        2,
        True,
        False,
        ["A"],
    )
    beyond = reason_drill_down(ReportFilters(**PERIOD), price, per_page=1, page=9)
    assert (beyond.page, [d.name for d in beyond.deals]) == (2, ["A"])  # past the end: the last page
    # E gave it too, before the period: a page past the last deal but not past every reason is the last too.
    assert [d.name for d in reason_drill_down(ReportFilters(**PERIOD), price, per_page=1, page=3).deals] == [
        "A"
    ]


def test_a_drill_down_in_an_amount_band_counts_and_pages_the_deals_of_the_band(deals):
    """In the band under 10,000: B ($2,000) and A ($1,100), not C (no rate); past the last page, the last."""
    price = _code("price.too_high")
    small = ReportFilters(**PERIOD, band="small")
    first = reason_drill_down(small, price, per_page=1)
    assert (first.total, [d.name for d in first.deals]) == (2, ["B"])
    beyond = reason_drill_down(small, price, per_page=1, page=5)
    assert (beyond.total, beyond.page, [d.name for d in beyond.deals]) == (2, 2, ["A"])
    theme = reason_drill_down(small, _code("price"), per_page=5, whole_theme=True)
    assert (theme.total, [d.name for d in theme.deals]) == (2, ["B", "A"])


def test_the_drill_down_leaves_out_vendor_names_which_are_not_what_the_customer_said(
    make_opportunity, make_user, make_contact
):
    survey = published_survey(
        [
            QuestionSpec(
                K.SINGLE,
                "Main reason?",
                options=[OptionSpec("Price", "price", reason_code="price.too_high"), OptionSpec("Other")],
            ),
            QuestionSpec(K.SHORT_TEXT, "Which vendor did you choose?", feeds_competitor=True),
            QuestionSpec(K.LONG_TEXT, "Why?"),
        ],
        name="Vendors",
    )
    deal = make_opportunity(name="G", close_date=date(2026, 9, 10))
    version = survey.published
    q = [question.html_id for question in version.questions]
    form = MultiDict([(q[0], "price"), (q[1], "Umbrella Metrics"), (q[2], "Half the price")])
    record_phone_response(
        version, form, caller=make_user(Role.CALLER), contact=make_contact(), opportunity=deal, now=NOW
    )
    db.session.commit()
    drill = reason_drill_down(ReportFilters(**PERIOD), _code("price.too_high"))
    assert [v.text for v in drill.verbatims[deal.id]] == ["Price", "Half the price"]


def test_child_codes_roll_up_into_their_theme_each_deal_once(deals, login, make_user):
    """A is coded "price" as well as "price.too_high", D "price" alone: the theme "price" holds A, B and D
    (3 deals, not 2 + 2 = 4), with its codes beside it; the page shows themes, the CSV both."""
    from app.coding.models import OpportunityReason
    from app.coding.theme_marks import mark_first_in_theme

    price = _code("price")
    db.session.add_all(
        [
            OpportunityReason(opportunity_id=deals["A"].id, reason_code_id=price.id, is_primary=False),
            OpportunityReason(opportunity_id=deals["D"].id, reason_code_id=price.id, is_primary=True),
        ]
    )
    db.session.flush()
    mark_first_in_theme([deals["A"].id, deals["D"].id])  # as refresh_opportunity_reasons would
    db.session.commit()

    report = loss_reasons_report(ReportFilters(**PERIOD))
    themes = {theme.code: theme for theme in report.themes}
    assert (themes["price"].deals, themes["price"].amount) == (3, Decimal("3800.00"))  # 1,100 + 2,000 + 700
    children = [(bar.code, bar.deals) for bar in themes["price"].children]
    assert children == [("price", 2), ("price.too_high", 2)]
    assert [(t.code, t.deals) for t in report.themes] == [("price", 3), ("support", 1), ("timing", 1)]

    client = login(make_user(Role.ANALYST))
    args = "from=2026-08-01&to=2026-10-31"
    page = " ".join(client.get(f"/reports/loss-reasons?{args}").get_data(as_text=True).split())
    assert 'id="theme-price"' in page
    assert "By theme, by number of deals" in page
    assert "By reason code" in client.get(f"/reports/loss-reasons?{args}&view=codes").get_data(as_text=True)
    rows = client.get(f"/reports/loss-reasons.csv?{args}").get_data(as_text=True).splitlines()
    assert rows[1].startswith("price,Price and commercial terms,price,Price and commercial terms,2,")
    assert rows[2].startswith("price,Price and commercial terms,price.too_high,Price too high,2,")
    themes_csv = client.get(f"/reports/loss-reasons.csv?{args}&table=themes").get_data(as_text=True)
    assert themes_csv.splitlines()[1] == "price,Price and commercial terms,3,3800.00,75.0"


def test_a_theme_drills_down_to_all_its_deals_each_once_with_its_codes_one_click_away(
    deals, login, make_user
):
    """A gave "price" and "price.too_high", D "price" alone, B "price.too_high": the theme "price" drills
    down to A, B and D, each once (a code's drill-down to its own deals only); its codes are links; the
    drill-down CSV carries the theme and each deal's codes."""
    from app.coding.models import OpportunityReason
    from app.coding.theme_marks import mark_first_in_theme

    price = _code("price")
    db.session.add_all(
        [
            OpportunityReason(opportunity_id=deals["A"].id, reason_code_id=price.id, is_primary=False),
            OpportunityReason(opportunity_id=deals["D"].id, reason_code_id=price.id, is_primary=True),
        ]
    )
    db.session.flush()
    mark_first_in_theme([deals["A"].id, deals["D"].id])  # as refresh_opportunity_reasons would
    db.session.commit()
    theme = reason_drill_down(ReportFilters(**PERIOD), price, whole_theme=True)
    assert sorted(d.name for d in theme.deals) == ["A", "B", "D"]
    assert theme.total == 3
    assert theme.codes(deals["A"].id) == "price, price.too_high"
    codes = [c.code for c in theme.theme_codes]
    assert codes[0] == "price"
    assert "price.too_high" in codes
    assert all(c.startswith("price") for c in codes)
    alone = reason_drill_down(ReportFilters(**PERIOD), price)
    assert (sorted(d.name for d in alone.deals), alone.total) == (["A", "D"], 2)

    client = login(make_user(Role.ANALYST))
    args = "from=2026-08-01&to=2026-10-31"
    overview = client.get(f"/reports/loss-reasons?{args}").get_data(as_text=True)
    assert f"/reports/loss-reasons/{price.id}?theme=1" in overview
    page = " ".join(
        client.get(f"/reports/loss-reasons/{price.id}?{args}&theme=1").get_data(as_text=True).split()
    )
    assert "Theme: Price and commercial terms" in page
    assert f'href="/reports/loss-reasons/{_code("price.too_high").id}?' in page
    rows = (
        client.get(f"/reports/loss-reasons/{price.id}.csv?{args}&theme=1").get_data(as_text=True).splitlines()
    )
    assert rows[0].startswith("\ufeffTheme code,Theme,Code,")
    assert len(rows) == 4
    assert any(row.startswith('price,Price and commercial terms,"price, price.too_high",') for row in rows)


def test_postgresql_expects_a_group_per_close_month_not_per_close_date(make_account, make_opportunity):
    """The statistics of migration 0047 describe month_start's own expression: the planner then expects the
    loss reasons' months as few as they are, and may split the main aggregate across workers."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("statistics on an expression are PostgreSQL's")
    account = make_account()
    for day in range(90):  # July to September, a deal a day
        make_opportunity(account, close_date=date(2026, 7, 1) + timedelta(days=day))
    db.session.execute(text("ANALYZE opportunities"))
    month = month_start(Opportunity.close_date)
    query = select(month, func.count()).group_by(month)
    sql = query.compile(db.engine, compile_kwargs={"literal_binds": True})
    plan = db.session.execute(text(f"EXPLAIN (FORMAT JSON) {sql}")).scalar()
    assert plan[0]["Plan"]["Plan Rows"] == 3  # without the statistics: 90, one per close date
