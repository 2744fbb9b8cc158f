"""Agreed targets and early warning: pace in words, rates against their assumption, one email per month and
metric through a real SMTP server, and the admin's settings page."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.auth.models import Role
from app.extensions import db
from app.jobs import run_due_jobs
from app.messaging.delivery import claim_due_messages, deliver_claimed
from app.messaging.models import OutboundMessage
from app.messaging.transports import LogSmsTransport, SmtpTransport, Transports
from app.money.service import set_rate
from app.pipeline.models import Requalification, RequalificationSource, RequalificationStatus
from app.reports.models import FunnelTargets, TargetAlert
from app.reports.targets import send_target_alerts, set_funnel_targets, target_status
from tests.conftest import PASSWORD
from tests.messaging.conftest import smtp_server  # noqa: F401 (a fixture)

DAY_12 = datetime(2026, 11, 12, 9, 0, tzinfo=UTC)  # November has 30 days: day 12 is 12/30 of the month


def _targets(**overrides) -> FunnelTargets:
    values = {
        "requalified": 40,
        "accepted": 0,
        "recovered_revenue": Decimal(0),
        "response_rate": Decimal(0),
        "acceptance_rate": Decimal(0),
        "win_rate": Decimal(0),
    }
    values.update(overrides)
    targets = set_funnel_targets(**values, by=None, now=DAY_12)
    db.session.commit()
    return targets


def _requalify(account, *, created_at, status=RequalificationStatus.PENDING, decided_at=None, **fields):
    requalification = Requalification(
        account_id=account.id,
        source=RequalificationSource.CALL,
        status=status,
        created_at=created_at,
        updated_at=created_at,
        decided_at=decided_at,
        **fields,
    )
    db.session.add(requalification)
    db.session.flush()
    return requalification


def _twelve_requalified_in_november(make_account):
    for n in range(12):
        _requalify(make_account(), created_at=DAY_12 - timedelta(days=n % 11, hours=1))
    _requalify(make_account(), created_at=datetime(2026, 10, 31, 23, 0, tzinfo=UTC))  # October: not counted
    db.session.commit()


def test_pace_says_how_far_behind_in_words(make_account):
    _targets(requalified=40)
    _twelve_requalified_in_november(make_account)

    [requalified, accepted, revenue] = target_status(DAY_12.date()).paces

    # 40 × 12/30 = 16 expected by the 12th; 12 done.
    assert requalified.expected == Decimal(16)
    assert requalified.words == "12 of 40, behind pace by 4"
    assert requalified.behind
    assert accepted.words == "0 (no target set)"
    assert not accepted.behind


def test_pace_ahead_and_on_pace(make_account):
    _targets(requalified=30)  # 30 × 12/30 = 12 by the 12th
    _twelve_requalified_in_november(make_account)
    assert target_status(DAY_12.date()).paces[0].words == "12 of 30, on pace"
    _targets(requalified=20)  # 20 × 12/30 = 8
    assert target_status(DAY_12.date()).paces[0].words == "12 of 20, ahead of pace by 4"


def test_recovered_revenue_converts_and_keeps_amounts_without_a_rate_apart(make_account, make_opportunity):
    set_rate(month=date(2026, 11, 1), currency="EUR", rate=Decimal("1.10"), now=DAY_12)
    _targets(recovered_revenue=Decimal(6000))
    for amount, currency in ((Decimal(1000), "USD"), (Decimal(500), "EUR"), (Decimal(200), "GBP")):
        account = make_account()
        won = make_opportunity(
            account=account,
            stage="Closed Won",
            is_won=True,
            amount=amount,
            currency=currency,
            close_date=date(2026, 11, 5),
        )
        _requalify(
            account,
            created_at=datetime(2026, 10, 1, tzinfo=UTC),
            status=RequalificationStatus.ACCEPTED,
            recycled_opportunity_id=won.id,
        )
    db.session.commit()

    status = target_status(DAY_12.date())
    revenue = status.paces[2]
    # 1,000 USD + 500 EUR × 1.10 = 1,550; the 200 GBP has no November rate. 6,000 × 12/30 = 2,400 expected.
    assert revenue.actual == Decimal("1550.00")
    assert revenue.expected == Decimal("2400.00")
    assert revenue.words == "$1,550 of $6,000, behind pace by $850"
    assert [(i.currency, i.amount) for i in status.recovered.not_converted] == [("GBP", Decimal("200.00"))]
    # The win rate of recycled deals closed in November: 3 of 3.
    win = status.rates[2]
    assert (win.numerator, win.denominator) == (3, 3)


def test_a_rate_below_its_assumption_says_by_how_many_points(make_account):
    _targets(requalified=0, acceptance_rate=Decimal(50))
    for n in range(12):
        _requalify(
            make_account(),
            created_at=datetime(2026, 10, 20, tzinfo=UTC),
            status=RequalificationStatus.ACCEPTED if n < 3 else RequalificationStatus.REJECTED,
            decided_at=DAY_12 - timedelta(days=1),
        )
    _requalify(  # decided in October: not this month's rate
        make_account(),
        created_at=datetime(2026, 10, 1, tzinfo=UTC),
        status=RequalificationStatus.REJECTED,
        decided_at=datetime(2026, 10, 30, tzinfo=UTC),
    )
    db.session.commit()

    acceptance = target_status(DAY_12.date()).rates[1]
    assert (acceptance.numerator, acceptance.denominator) == (3, 12)
    assert acceptance.below
    assert acceptance.words == "25% (3 of 12) against an assumed 50%: 25 points below"


def test_a_rate_on_too_few_cases_raises_no_warning(make_account):
    _targets(requalified=0, acceptance_rate=Decimal(50))
    _requalify(
        make_account(),
        created_at=DAY_12 - timedelta(days=3),
        status=RequalificationStatus.REJECTED,
        decided_at=DAY_12 - timedelta(days=1),
    )
    db.session.commit()
    acceptance = target_status(DAY_12.date()).rates[1]
    assert not acceptance.below
    assert "fewer than 10 cases" in acceptance.words
    assert send_target_alerts(now=DAY_12, dashboard_url="http://x") == 0


def test_no_data_shows_zeros_not_errors():
    status = target_status(DAY_12.date())
    assert status.targets is None
    assert [p.actual for p in status.paces] == [0, 0, Decimal("0.00")]
    assert all(rate.actual is None for rate in status.rates)
    assert send_target_alerts(now=DAY_12, dashboard_url="http://x") == 0


def test_a_pace_is_not_checked_in_the_first_days_of_the_month(make_account, make_user):
    make_user(Role.ADMIN)
    _targets(requalified=40)
    assert send_target_alerts(now=datetime(2026, 11, 6, 9, tzinfo=UTC), dashboard_url="http://x") == 0
    assert send_target_alerts(now=datetime(2026, 11, 7, 9, tzinfo=UTC), dashboard_url="http://x") == 1


def test_run_twice_one_email_to_each_admin_and_sales_manager(make_account, make_user, smtp_server):  # noqa: F811
    sink, port = smtp_server
    make_user(Role.ADMIN, name="Ada Admin", email="ada@winback.example")
    make_user(Role.SALES_MANAGER, name="Sam Sales", email="sam@winback.example")
    make_user(Role.CALLER, email="casey@winback.example")  # callers are not told
    make_user(Role.SALES_MANAGER, email="gone@winback.example").active = False
    _targets(requalified=40)
    _twelve_requalified_in_november(make_account)

    assert send_target_alerts(now=DAY_12, dashboard_url="http://winback.test/dashboard") == 1
    db.session.commit()
    # A second run (the next hour, or a second worker) sends nothing more.
    assert send_target_alerts(now=DAY_12 + timedelta(hours=1), dashboard_url="http://x") == 0
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(TargetAlert)) == 1
    assert db.session.scalar(select(func.count()).select_from(OutboundMessage)) == 2

    transport = SmtpTransport("127.0.0.1", port, mail_from="Winback <w@winback.example>", starttls=False)
    try:
        ids = claim_due_messages(worker_id="w1", now=DAY_12 + timedelta(hours=1))
        stats = deliver_claimed(
            ids, Transports(email=transport, sms=LogSmsTransport()), worker_id="w1", clock=lambda: DAY_12
        )
    finally:
        transport.close()
    assert stats.sent == 2
    assert sorted(tuple(m.rcpt_tos) for m in sink.received) == [
        ("ada@winback.example",),
        ("sam@winback.example",),
    ]
    mail = sink.received[0].message
    assert mail["Subject"] == "Winback: requalified deals delivered to sales below plan in November 2026"
    body = mail.get_body(("plain",)).get_content()
    assert "Requalified deals delivered to sales: 12 of 40, behind pace by 4 (pace on day 12: 16)." in body
    assert "http://winback.test/dashboard" in body


def test_the_worker_job_warns_once_across_runs(app, make_account, make_user):
    make_user(Role.ADMIN)
    _targets(requalified=40)
    _twelve_requalified_in_november(make_account)
    assert "reports.target_alerts" in run_due_jobs(now=DAY_12, last_runs={})
    assert "reports.target_alerts" in run_due_jobs(now=DAY_12 + timedelta(hours=2), last_runs={})
    assert db.session.scalar(select(func.count()).select_from(OutboundMessage)) == 1
    # The next month warns again.
    for n in range(3):
        _requalify(make_account(), created_at=datetime(2026, 12, 9, tzinfo=UTC) + timedelta(hours=n))
    db.session.commit()
    run_due_jobs(now=datetime(2026, 12, 10, 9, tzinfo=UTC), last_runs={})
    assert db.session.scalar(select(func.count()).select_from(OutboundMessage)) == 2


@pytest.fixture
def admin_client(login, make_user):
    return login(make_user(Role.ADMIN))


def test_the_admin_sets_targets_on_the_settings_page(admin_client):
    page = admin_client.get("/settings/targets")
    assert page.status_code == 200
    assert "Recovered revenue per month" in page.get_data(as_text=True)
    response = admin_client.post(
        "/settings/targets",
        data={
            "requalified": "40",
            "accepted": "20",
            "recovered_revenue": "150000",
            "response_rate": "25",
            "acceptance_rate": "60",
            "win_rate": "30.5",
        },
    )
    assert response.status_code == 302
    targets = db.session.get(FunnelTargets, 1)
    assert (targets.requalified_per_month, targets.accepted_per_month) == (40, 20)
    assert targets.recovered_revenue_per_month == Decimal("150000.00")
    assert (targets.response_rate, targets.acceptance_rate, targets.win_rate) == (
        Decimal("0.25"),
        Decimal("0.6"),
        Decimal("0.305"),
    )
    assert targets.currency == "USD"
    # The pace says what it counts, since the funnel report counts a period's enrollments instead.
    home = admin_client.get("/dashboard").get_data(as_text=True)
    assert "of 40" in home  # "N of 40, ..." for the requalified target
    assert "The recovery funnel counts what came out of a period" in home


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("requalified", "-3", "Enter a whole number from 0 to 1,000,000."),
        ("requalified", "lots", "Not a valid integer value."),
        ("response_rate", "140", "Enter a percentage between 0 and 100."),
        ("recovered_revenue", "", "Enter an amount (0 for no target)."),
    ],
)
def test_bad_targets_are_a_400_with_the_reason(admin_client, field, value, message):
    data = {
        "requalified": "40",
        "accepted": "20",
        "recovered_revenue": "1000",
        "response_rate": "25",
        "acceptance_rate": "60",
        "win_rate": "30",
    }
    data[field] = value
    response = admin_client.post("/settings/targets", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.session.get(FunnelTargets, 1) is None


def test_only_admins_set_targets(login, make_user):
    client = login(make_user(Role.SALES_MANAGER))
    assert client.get("/settings/targets").status_code == 403
    assert client.post("/settings/targets", data={"requalified": "1"}).status_code == 403


def test_the_targets_form_needs_its_csrf_token(make_app, make_user):
    csrf_app = make_app(WTF_CSRF_ENABLED=True)
    admin = make_user(Role.ADMIN)
    client = csrf_app.test_client()
    token_of = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
    token = token_of.search(client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"email": admin.email, "password": PASSWORD, "csrf_token": token})
    data = {
        "requalified": "5",
        "accepted": "2",
        "recovered_revenue": "0",
        "response_rate": "0",
        "acceptance_rate": "0",
        "win_rate": "0",
    }
    assert client.post("/settings/targets", data=data).status_code == 400
    token = token_of.search(client.get("/settings/targets").get_data(as_text=True)).group(1)
    assert client.post("/settings/targets", data={**data, "csrf_token": token}).status_code == 302


def test_a_warning_another_worker_recorded_is_not_sent_again(make_account, make_user):
    make_user(Role.ADMIN)
    _targets(requalified=40)
    _twelve_requalified_in_november(make_account)
    db.session.add(TargetAlert(month=date(2026, 11, 1), metric="requalified", message="sent by worker 2"))
    db.session.commit()
    assert send_target_alerts(now=DAY_12, dashboard_url="http://x") == 0
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(OutboundMessage)) == 0
    assert db.session.scalar(select(func.count()).select_from(TargetAlert)) == 1
