"""`demo load` fills every report and every role's home: three currencies with monthly rates (one month
left without, so "not converted" shows), campaigns that reached people, calls, recovered revenue, targets."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.auth.models import Role, User
from app.crm.models import Opportunity
from app.extensions import db
from app.money.models import ExchangeRate
from app.reports.callers import callers_report
from app.reports.competitors import competitors_report
from app.reports.filters import ReportFilters
from app.reports.funnel import STEP_KEYS, funnel_report
from app.reports.home import caller_today
from app.reports.models import FunnelTargets
from app.reports.sales_follow_up import sales_follow_up_report
from app.reports.targets import target_status


@pytest.fixture
def logins(demo, runner):
    """The demo logins as `demo logins` prints them, by role."""
    logins = {}
    for line in runner.invoke(args=["demo", "logins"]).output.splitlines():
        parts = line.split()
        if len(parts) == 3 and "@winback.demo" in parts[1]:
            logins[parts[0]] = (parts[1], parts[2])
    return logins


def _home(client, logins, role: Role) -> str:
    email, password = logins[role.value]
    assert client.post("/login", data={"email": email, "password": password}).status_code == 302
    html = re.sub(r"\s+", " ", client.get("/dashboard").get_data(as_text=True))
    client.post("/logout")
    return html


def test_the_demo_has_three_currencies_and_one_month_without_a_rate(demo):
    currencies = set(db.session.scalars(select(Opportunity.currency).distinct()))
    assert currencies == {"USD", "EUR", "GBP"}
    months = {
        currency: set(db.session.scalars(select(ExchangeRate.month).where(ExchangeRate.currency == currency)))
        for currency in ("EUR", "GBP")
    }
    assert months["EUR"] - months["GBP"] != set()
    [gap] = months["EUR"] - months["GBP"]
    gbp_lost_that_month = db.session.scalar(
        select(func.count()).where(
            Opportunity.currency == "GBP",
            Opportunity.close_date >= gap,
            Opportunity.close_date < (gap + timedelta(days=31)).replace(day=1),
        )
    )
    assert gbp_lost_that_month > 0


def test_the_demo_campaigns_reached_people_and_won_revenue_back(demo):
    today = date.today()
    report = funnel_report(today - timedelta(days=90), today)
    survey_row = next(row for row in report.campaigns if "survey" in row.label)
    calls_row = next(row for row in report.campaigns if "Call back" in row.label)
    assert survey_row.reached > 0
    assert survey_row.responded > 0
    assert calls_row.reached > 0
    status = target_status(today)
    assert db.session.get(FunnelTargets, 1) is not None
    assert status.recovered.total > 0
    assert status.paces[0].actual > 0  # requalified this month
    caller = db.session.scalar(select(User).where(User.role == Role.CALLER))
    numbers = caller_today(caller, today)
    assert numbers.calls > 0
    assert numbers.connects > 0
    assert numbers.talk_seconds > 0


def test_every_home_shows_demo_content(client, logins):
    admin = _home(client, logins, Role.ADMIN)
    assert "No targets yet" not in admin
    assert "Not converted (no exchange rate for the close month)" in admin
    assert "salesforce-opportunities.csv, done" in admin
    assert re.search(r"Enrolled</th><td class=\"num\">[1-9]", admin)
    manager = _home(client, logins, Role.SALES_MANAGER)
    assert re.search(r"Pending reviews, [a-z -]+: [1-9]", manager)
    assert re.search(r"<span class=\"figure\">[1-9]\d*</span> deals lost", manager)
    assert re.search(r"from [1-9]\d* recycled deals? won", manager)
    caller = _home(client, logins, Role.CALLER)
    assert re.search(r"id=\"today-calls\">[1-9]", caller)
    assert re.search(r"<span class=\"figure\">[1-9]\d*</span> calls? ready now", caller)
    analyst = _home(client, logins, Role.ANALYST)
    assert re.search(r"<span class=\"figure\">[1-9]\d*</span> answers? to code", analyst)
    assert re.search(
        r"Cohen’s kappa between .+ on [1-9]\d* answers?: <span class=\"figure\">[0-9.-]+</span>", analyst
    )


@pytest.mark.parametrize(
    ("path", "empty", "filled"),
    [
        ("/reports/loss-reasons", "No customer-stated reason in this view.", "Price"),
        ("/reports/sales-vs-customers", "No deal to compare in this view.", "Agreement per sales owner"),
        ("/reports/funnel", None, "Why we lost: Q3–Q4 win/loss survey"),
        ("/reports/callers", "No call in this period.", "Casey Caller"),
        ("/settings/targets", None, "Requalified deals delivered to sales"),
    ],
)
def test_every_report_page_has_demo_figures(client, logins, path, empty, filled):
    email, password = logins["admin"]
    client.post("/login", data={"email": email, "password": password})
    response = client.get(path)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert filled in html
    if empty:
        assert empty not in html


def test_the_demo_funnel_is_full_and_consistent_and_the_other_reports_have_figures(demo):
    """Every step of both demo campaigns has deals, no step has more than the one before, the days between
    steps run forward, the campaigns add up to the overall row; competitors are rated, managers decided,
    calls have talk time."""
    today = date.today()
    report = funnel_report(today - timedelta(days=90), today)
    rows = {row.label: row for row in report.campaigns}
    for name in ("Why we lost: Q3–Q4 win/loss survey", "Call back: lost to a competitor, over $25k"):
        row = rows[name]
        assert row.won > 0, (name, [row.count(step) for step in STEP_KEYS])
        assert row.recovered.total > 0
    for row in [report.overall, *report.campaigns]:
        counts = [row.count(step) for step in STEP_KEYS]
        assert counts == sorted(counts, reverse=True), (row.label, counts)
        assert all(days >= 0 for days in row.median_days.values()), (row.label, row.median_days)
    for step in (*STEP_KEYS, "open_deals"):
        assert getattr(report.overall, step) == sum(getattr(row, step) for row in report.campaigns)
    assert report.overall.open_deals > 0
    assert report.overall.recovered.total == sum(row.recovered.total for row in report.campaigns)
    channels = {row.channel: row for row in report.channels}
    assert channels["phone"].responded > 0  # the survey taken down on calls
    assert channels["sms"].responded > 0
    for row in report.channels:
        assert row.contacted >= row.reached >= row.responded, row

    competitors = competitors_report(ReportFilters(today - timedelta(days=365), today))
    assert sum(row.rated for row in competitors.rows) > 0
    assert all(1 <= row.average_rating <= 5 for row in competitors.rows if row.rated)
    assert sum(row.won for row in competitors.rows) > 0
    follow_up = sales_follow_up_report(today - timedelta(days=90), today)
    assert follow_up.managers
    assert all(row.decided >= row.accepted + row.rejected for row in follow_up.managers)
    assert follow_up.total.accepted > 0
    assert follow_up.total.rejected > 0
    assert follow_up.total.deferred > 0
    [caller] = callers_report(today - timedelta(days=30), today)
    assert caller.calls >= caller.connects >= caller.completes > 0
    assert caller.talk_seconds > 0
