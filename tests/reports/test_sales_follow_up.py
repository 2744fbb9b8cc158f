"""The sales follow-up report on a hand-made data set (decisions from 2026-10-01 to 2026-11-30).

  Q1 Maria  requalified 10-01 10:00, due 10-03, accepted 10-02 10:00 (on time, 1 day);
            first touch 10-04, due 10-05
  Q2 Maria  requalified 10-10 10:00, due 10-12, rejected 10-14 10:00, no budget (late, 4 days)
  Q3 Maria  requalified 11-01 10:00, due 11-03, accepted 11-04 10:00 (late, 3 days); not touched, due 11-06
  Q4 Sam    requalified 11-02 10:00, no due time, rejected 11-02 22:00, bad timing (on time, half a day)
  Q5 Sam    deferred on 11-10, still deferred
  Q6 Maria  decided 09-15 (before the period);  Q7 pending, nobody decided
Maria: 3 decided, 1 on time, 2 accepted, 1 rejected, 1 touched on time, median of 1, 3, 4 days = 3
Sam:   1 decided, 1 on time, 0 accepted, 1 rejected, 1 deferred, median 0.5
All:   4 decided, 2 on time, 2 accepted, 2 rejected, 1 deferred, median of 0.5, 1, 3, 4 = 2
Months: Maria 10 (2, 1 on time, median 2.5), Maria 11 (1, 0, 3), Sam 10 (nothing: zeros), Sam 11 (1, 1, 0.5)
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.auth.models import Role
from app.extensions import db
from app.pipeline.models import Requalification, RequalificationSource, RequalificationStatus
from app.reports.sales_follow_up import sales_follow_up_report

PERIOD = (date(2026, 10, 1), date(2026, 11, 30))
ARGS = "from=2026-10-01&to=2026-11-30"


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


@pytest.fixture
def decisions(make_user, make_account):
    maria = make_user(Role.SALES_MANAGER, name="Maria Manager")
    sam = make_user(Role.SALES_MANAGER, name="Sam Manager")
    accepted, rejected = RequalificationStatus.ACCEPTED, RequalificationStatus.REJECTED

    def requalification(status, created, *, reviewer=None, decided=None, due=None, **fields):
        db.session.add(
            Requalification(
                account_id=make_account().id,
                source=RequalificationSource.CALL,
                status=status,
                created_at=created,
                updated_at=fields.pop("updated_at", decided or created),
                decided_at=decided,
                decision_due_at=due,
                reviewer_id=reviewer.id if reviewer else None,
                **fields,
            )
        )

    requalification(
        accepted,
        at(10, 1),
        reviewer=maria,
        decided=at(10, 2),
        due=at(10, 3),
        first_touch_due_at=at(10, 5),
        first_touch_at=at(10, 4),
    )
    requalification(
        rejected, at(10, 10), reviewer=maria, decided=at(10, 14), due=at(10, 12), reject_reason="no_budget"
    )
    requalification(
        accepted, at(11, 1), reviewer=maria, decided=at(11, 4), due=at(11, 3), first_touch_due_at=at(11, 6)
    )
    requalification(rejected, at(11, 2), reviewer=sam, decided=at(11, 2, 22), reject_reason="bad_timing")
    requalification(
        RequalificationStatus.DEFERRED,
        at(11, 5),
        reviewer=sam,
        updated_at=at(11, 10),
        deferred_until=date(2027, 1, 15),
    )
    requalification(accepted, at(9, 10), reviewer=maria, decided=at(9, 15), due=at(9, 12))
    requalification(RequalificationStatus.PENDING, at(11, 20))
    db.session.commit()


def _figures(row):
    return (
        row.manager,
        row.decided,
        row.on_time,
        row.accepted,
        row.rejected,
        row.deferred,
        row.touched_on_time,
    )


def test_decisions_service_levels_and_time_to_decision_per_manager(decisions):
    report = sales_follow_up_report(*PERIOD)
    assert [_figures(r) for r in report.managers] == [
        ("Maria Manager", 3, 1, 2, 1, 0, 1),
        ("Sam Manager", 1, 1, 0, 1, 1, 0),
    ]
    assert [r.median_days for r in report.managers] == pytest.approx([3, 0.5])
    assert _figures(report.total) == ("All managers", 4, 2, 2, 2, 1, 1)
    assert report.total.median_days == pytest.approx(2)
    assert report.total.compliance == pytest.approx(0.5)


def test_every_month_of_the_period_is_shown_empty_ones_as_zero(decisions):
    months = [
        (r.manager, r.month, r.decided, r.on_time, r.median_days)
        for r in sales_follow_up_report(*PERIOD).months
    ]
    assert months == [
        ("Maria Manager", date(2026, 10, 1), 2, 1, pytest.approx(2.5)),
        ("Maria Manager", date(2026, 11, 1), 1, 0, pytest.approx(3)),
        ("Sam Manager", date(2026, 10, 1), 0, 0, None),
        ("Sam Manager", date(2026, 11, 1), 1, 1, pytest.approx(0.5)),
    ]


def test_rejection_reasons_per_manager(decisions):
    report = sales_follow_up_report(*PERIOD)
    assert report.reasons == [("no_budget", "No budget", 1), ("bad_timing", "Timing too far out", 1)]
    maria, sam = (row.reviewer_id for row in report.managers)
    assert report.by_manager_reason == {(maria, "no_budget"): 1, (sam, "bad_timing"): 1}


def test_an_empty_period(decisions):
    report = sales_follow_up_report(date(2025, 1, 1), date(2025, 3, 31))
    assert (report.managers, report.months, report.reasons) == ([], [], [])
    assert (report.total.decided, report.total.median_days) == (0, None)


def test_the_page_and_its_csv(decisions, login, make_user):
    client = login(make_user(Role.ANALYST))
    page = client.get(f"/reports/sales-follow-up?{ARGS}").get_data(as_text=True)
    assert "Maria Manager" in page
    assert "<svg" in page
    assert "/pipeline/sla" not in page  # analysts cannot open the service-level page
    csv = client.get(f"/reports/sales-follow-up.csv?{ARGS}").get_data(as_text=True)
    assert csv.startswith("\ufeff")
    assert csv.splitlines()[1:] == [
        "Maria Manager,whole period,3,1,33.3,2,1,0,1,3.0",
        "Sam Manager,whole period,1,1,100.0,0,1,1,0,0.5",
        "All managers,whole period,4,2,50.0,2,2,1,1,2.0",
    ]
    months = client.get(f"/reports/sales-follow-up.csv?{ARGS}&table=months").get_data(as_text=True)
    assert months.splitlines()[3] == "Sam Manager,2026-10,0,0,,0,0,0,0,"
    reasons = client.get(f"/reports/sales-follow-up.csv?{ARGS}&table=reasons").get_data(as_text=True)
    assert reasons.splitlines()[1:] == ["No budget,1,0,1", "Timing too far out,0,1,1"]
