"""The full recovery funnel on a hand-made data set (enrolled in November 2026), figures worked out below.

Campaign "Spring" (survey), enrolled 11-02 10:00:
  s1  deal A (EUR 1,000, lost 08-10)  email sent, opened 11-03, completed 11-05
  s2  deal A, a second contact         email sent, opened 11-04
  s3  deal B                           SMS sent, never opened
  s4  deal C                           email sent, opened 11-03, completed 11-04
Campaign "Calls", enrolled 11-02 10:00:
  c1  deal D   call connected 11-03 10:00, completed with a phone response
  c2  deal E   call connected 11-03 10:00, requalified, with a phone response
  c3  deal F   enrolled 10-01 (before the period): its won requalification is left out
Requalifications (created → decided):
  R1 Spring/A  11-06 → accepted 11-08; recycled A' EUR 2,000 won, closed 11-20 (EUR: 1.10 in Nov, 1.05 in Aug)
  R3 Spring/C  11-05 → accepted 11-09; recycled C' GBP 3,000 open, closing 12-15 (no GBP rate)
  R4 Calls/D   11-04 → accepted 11-05; recycled D' USD 5,000 won, closed 11-25
  R5 Calls/E   11-03 12:00 → rejected 11-04
  R6 Calls/A   A was never enrolled in Calls: left out;  R7 Calls/F: F enrolled before the period, left out

Spring: enrolled 4, reached 3 (s1 s2 s4), responded 2 (s1 s4), requalified 2, accepted 2, won 1, open 1
Calls:  enrolled 2, reached 2, responded 2, requalified 2 (R4 R5), accepted 1, won 1
All:    6, 5, 4, 4, 3, 2; recovered 2,000 € × 1.10 + $5,000 = $7,200.00; open: £3,000 not converted, 1 deal.
Medians in days, all campaigns:
  reached     s1 1, s2 2, s4 1, c1 1, c2 1                  → 1
  responded   s1 2 (11-03 → 11-05), s4 1, c1 0, c2 0        → (0 + 1) / 2 = 0.5
  requalified R1 1 (s1's response 11-05 → 11-06), R3 1, R4 1, R5 2 h = 1/12 → (1 + 1) / 2 = 1
  accepted    R1 2, R3 4, R4 1                              → 2
  won         R1 11-08 10:00 → 11-20 = 11 + 14/24, R4 11-05 10:00 → 11-25 = 19 + 14/24 → 15 + 14/24
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from app.auth.models import Role
from app.crm.models import Origin
from app.extensions import db
from app.messaging.channels import Channel
from app.money.service import set_rate
from app.pipeline.models import Requalification, RequalificationSource, RequalificationStatus
from app.reports.funnel import funnel_report, step_deals
from campaigns.calls.models import CallAttempt, CallTask, Disposition
from campaigns.models import Campaign, CampaignKind, Enrollment
from surveys.models import Invitation

NOV = (date(2026, 11, 1), date(2026, 11, 30))
ARGS = "from=2026-11-01&to=2026-11-30"


def at(day: int, month: int = 11, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


@pytest.fixture
def recovery(make_user, make_account, make_contact, make_opportunity, survey, respond):
    caller = make_user(Role.CALLER, name="Ann Caller")
    manager = make_user(Role.SALES_MANAGER, name="Maria Manager")
    spring = Campaign(name="Spring", kind=CampaignKind.SURVEY)
    calls = Campaign(name="Calls", kind=CampaignKind.CALL)
    db.session.add_all([spring, calls])
    db.session.flush()
    tokens = itertools.count()

    def deal(name, **fields):
        return make_opportunity(make_account(name=f"{name} Inc"), name=name, **fields)

    a = deal("A", amount=Decimal(1000), currency="EUR", close_date=date(2026, 8, 10))
    b, c, d, e, f = (deal(name) for name in "BCDEF")

    def enroll(campaign, opportunity, enrolled_at=None):
        enrollment = Enrollment(
            campaign=campaign,
            contact=make_contact(account=opportunity.account),
            opportunity=opportunity,
            enrolled_at=enrolled_at or at(2),
        )
        db.session.add(enrollment)
        db.session.flush()
        return enrollment

    def invite(enrollment, channel, opened=None, completed=None):
        n = next(tokens)
        invitation = Invitation(
            version_id=survey.published.id,
            contact_id=enrollment.contact_id,
            opportunity_id=enrollment.opportunity_id,
            channel=channel,
            nonce=f"{n:032x}",
            token_hash=f"{n:064x}",
            sent_at=at(2),
            opened_at=opened,
            completed_at=completed,
        )
        db.session.add(invitation)
        db.session.flush()
        enrollment.invitation_id = invitation.id

    def call(enrollment, disposition, response_id):
        task = CallTask(
            campaign_id=enrollment.campaign_id,
            enrollment_id=enrollment.id,
            contact_id=enrollment.contact_id,
            due_at=at(3),
        )
        db.session.add(task)
        db.session.flush()
        db.session.add(
            CallAttempt(
                task_id=task.id,
                campaign_id=enrollment.campaign_id,
                contact_id=enrollment.contact_id,
                caller_id=caller.id,
                phone="+14155550123",
                started_at=at(3),
                answered_at=at(3),
                duration_seconds=120,
                disposition=disposition,
                response_id=response_id,
            )
        )

    invite(enroll(spring, a), Channel.EMAIL, opened=at(3), completed=at(5))
    invite(enroll(spring, a), Channel.EMAIL, opened=at(4))
    invite(enroll(spring, b), Channel.SMS)
    invite(enroll(spring, c), Channel.EMAIL, opened=at(3), completed=at(4))
    c1, c2 = enroll(calls, d), enroll(calls, e)
    c3 = enroll(calls, f, enrolled_at=at(1, month=10))
    db.session.commit()
    call(c1, Disposition.COMPLETED, respond("Too dear").response.id)
    call(c2, Disposition.REQUALIFIED, respond("Call me in spring").response.id)
    call(c3, Disposition.REQUALIFIED, None)

    def requalify(campaign, opportunity, created, status, decided=None, recycled=None):
        requalification = Requalification(
            account_id=opportunity.account_id,
            opportunity_id=opportunity.id,
            campaign_id=campaign.id,
            source=RequalificationSource.SURVEY,
            status=status,
            created_at=created,
            updated_at=decided or created,
            decided_at=decided,
            reviewer_id=manager.id if decided else None,
            recycled_opportunity_id=recycled.id if recycled else None,
        )
        db.session.add(requalification)
        db.session.flush()

    def recycled(opportunity, amount, currency, close_date, *, won):
        return make_opportunity(
            opportunity.account,
            name=f"{opportunity.name} (recycled)",
            amount=Decimal(amount),
            currency=currency,
            close_date=close_date,
            is_closed=won,
            is_won=won,
            stage="Closed Won" if won else "Qualification",
            origin=Origin.RECYCLED,
            recycled_from_id=opportunity.id,
        )

    accepted, rejected = RequalificationStatus.ACCEPTED, RequalificationStatus.REJECTED
    requalify(spring, a, at(6), accepted, at(8), recycled(a, 2000, "EUR", date(2026, 11, 20), won=True))
    requalify(spring, c, at(5), accepted, at(9), recycled(c, 3000, "GBP", date(2026, 12, 15), won=False))
    requalify(calls, d, at(4), accepted, at(5), recycled(d, 5000, "USD", date(2026, 11, 25), won=True))
    requalify(calls, e, at(3, hour=12), rejected, at(4))
    requalify(calls, a, at(7), RequalificationStatus.PENDING)
    requalify(calls, f, at(4), accepted, at(5), recycled(f, 9000, "USD", date(2026, 11, 26), won=True))
    set_rate(month=date(2026, 11, 1), currency="EUR", rate=Decimal("1.10"), now=at(1))
    set_rate(month=date(2026, 8, 1), currency="EUR", rate=Decimal("1.05"), now=at(1))
    db.session.commit()
    return {"spring": spring, "calls": calls}


def _steps(row):
    return (row.enrolled, row.reached, row.responded, row.requalified, row.accepted, row.won)


def test_each_step_counts_each_enrollment_and_each_requalification_once(recovery):
    report = funnel_report(*NOV)
    assert _steps(report.overall) == (6, 5, 4, 4, 3, 2)
    assert [(r.label, _steps(r)) for r in report.campaigns] == [
        ("Calls", (2, 2, 2, 2, 1, 1)),
        ("Spring", (4, 3, 2, 2, 2, 1)),
    ]
    assert report.overall.conversion("reached") == pytest.approx(5 / 6)
    assert report.overall.conversion("accepted") == pytest.approx(3 / 4)
    assert report.overall.conversion("won") == pytest.approx(2 / 3)


def test_recovered_revenue_converts_with_the_recycled_deals_close_month(recovery):
    report = funnel_report(*NOV)
    assert report.overall.recovered.total == Decimal("7200.00")  # 2,000 € × 1.10 (November) + $5,000
    assert report.overall.recovered.converted_deals == 2
    spring = next(r for r in report.campaigns if r.label == "Spring")
    assert spring.recovered.total == Decimal("2200.00")


def test_the_open_recycled_pipeline_keeps_amounts_without_a_rate_apart(recovery):
    overall = funnel_report(*NOV).overall
    assert overall.open_deals == 1
    assert overall.open_pipeline.total == Decimal(0)
    assert [(n.currency, n.amount, n.deals) for n in overall.open_pipeline.not_converted] == [
        ("GBP", Decimal("3000.00"), 1)
    ]


def test_median_days_between_steps(recovery):
    report = funnel_report(*NOV)
    assert report.overall.median_days == pytest.approx(
        {"reached": 1, "responded": 0.5, "requalified": 1, "accepted": 2, "won": 15 + 14 / 24}
    )
    calls = next(r for r in report.campaigns if r.label == "Calls")
    assert calls.median_days == pytest.approx(
        {"reached": 1, "responded": 0, "requalified": (1 + 1 / 12) / 2, "accepted": 1, "won": 19 + 14 / 24}
    )


def test_channels_compare_email_sms_and_phone(recovery):
    channels = {r.channel: (r.contacted, r.reached, r.responded) for r in funnel_report(*NOV).channels}
    assert channels == {"email": (3, 3, 2), "sms": (1, 0, 0), "phone": (2, 2, 2)}


def test_one_campaign_and_an_empty_period(recovery):
    calls = funnel_report(*NOV, campaign_id=recovery["calls"].id)
    assert _steps(calls.overall) == (2, 2, 2, 2, 1, 1)
    assert calls.overall.recovered.total == Decimal("5000.00")
    empty = funnel_report(date(2025, 1, 1), date(2025, 1, 31))
    assert _steps(empty.overall) == (0, 0, 0, 0, 0, 0)
    assert empty.overall.recovered.total == Decimal(0)
    assert empty.overall.median_days == {}
    assert [r.contacted for r in empty.channels] == [0, 0, 0]


def test_drill_down_from_a_step_to_its_deals(recovery):
    won = step_deals("won", *NOV)
    assert [(d.name, d.amount, d.currency, d.converted) for d in won] == [
        ("D", Decimal("5000.00"), "USD", Decimal("5000.00")),
        ("A", Decimal("2000.00"), "EUR", Decimal("2200.00")),
    ]
    assert [(d.name, d.converted) for d in step_deals("open", *NOV)] == [("C", None)]
    assert sorted(d.name for d in step_deals("requalified", *NOV)) == ["A", "C", "D", "E"]
    assert sorted(d.name for d in step_deals("reached", *NOV)) == ["A", "A", "C", "D", "E"]
    assert step_deals("won", date(2025, 1, 1), date(2025, 1, 31)) == []


def test_the_funnel_pages_and_their_csv(recovery, login, make_user):
    client = login(make_user(Role.ANALYST))
    page = client.get(f"/reports/funnel?{ARGS}").get_data(as_text=True)
    assert "not available yet" not in page
    assert "$7,200" in page
    assert "Accepted by sales" in page
    csv = client.get(f"/reports/funnel.csv?{ARGS}")
    text = csv.get_data(as_text=True)
    assert text.startswith("\ufeff")
    lines = text.splitlines()
    assert lines[1].startswith("All campaigns,6,5,4,4,3,2,83.3,80.0,100.0,75.0,66.7,1.0,0.5,1.0,2.0,15.6,")
    assert lines[1].endswith(",7200.00,,1,0.00,3000.00 GBP (1)")
    drill = client.get(f"/reports/funnel/won?{ARGS}&campaign={recovery['spring'].id}")
    assert drill.status_code == 200
    assert "A (recycled)" not in drill.get_data(as_text=True)  # the lost deal, with its recycled amount
    assert ">A</a>" in drill.get_data(as_text=True)
    drill_csv = client.get(f"/reports/funnel/won.csv?{ARGS}").get_data(as_text=True)
    assert drill_csv.splitlines()[1:] == [
        "D,D Inc,,Calls,2026-11-25,5000.00,USD,5000.00",
        "A,A Inc,,Spring,2026-11-20,2000.00,EUR,2200.00",
    ]


def test_bad_funnel_arguments_are_explained(recovery, login, make_user):
    client = login(make_user(Role.ADMIN))
    response = client.get(f"/reports/funnel?{ARGS}&campaign=abc")
    assert response.status_code == 400
    assert "That campaign is not known" in response.get_data(as_text=True)
    assert client.get(f"/reports/funnel/nowhere?{ARGS}").status_code == 404


def test_the_admin_home_shows_the_reports_overall_row(recovery):
    from app.reports.home import funnel_summary

    summary = funnel_summary(date(2026, 11, 30), days=30)  # 1 to 30 November, as NOV
    assert (summary.start, summary.end) == NOV
    assert _steps(summary.overall) == (6, 5, 4, 4, 3, 2)
    assert (summary.requalified, summary.accepted, summary.won) == (4, 3, 2)
    assert summary.recovered.total == Decimal("7200.00")  # 2,000 € × 1.10 (November) + $5,000
    assert (summary.recovered.converted_deals, summary.recovered.not_converted) == (2, [])
    assert summary.overall.recovered.total == funnel_report(*NOV).overall.recovered.total


def test_a_phone_response_counts_from_the_call_that_took_it_not_from_an_earlier_unanswered_call(
    recovery, make_user, make_account, make_contact, make_opportunity, respond
):
    """Enrolled 11-02; called 11-03, no answer; called again 11-05, connected, the survey taken down on the
    call (the task holds the response): reached 11-05 (3 days), responded 11-05 (0 days, never before)."""
    caller = make_user(Role.CALLER, name="Bo Caller")
    later = Campaign(name="Later", kind=CampaignKind.CALL)
    opportunity = make_opportunity(make_account(name="G Inc"), name="G")
    db.session.add(later)
    db.session.flush()
    enrollment = Enrollment(
        campaign=later,
        contact=make_contact(account=opportunity.account),
        opportunity=opportunity,
        enrolled_at=at(2),
    )
    db.session.add(enrollment)
    db.session.flush()
    response_id = respond("Ring me after the audit").response.id
    task = CallTask(
        campaign_id=later.id,
        enrollment_id=enrollment.id,
        contact_id=enrollment.contact_id,
        due_at=at(3),
        response_id=response_id,
    )
    db.session.add(task)
    db.session.flush()
    for started, answered, disposition, response in (
        (at(3), None, Disposition.NO_ANSWER, None),
        (at(5), at(5), Disposition.COMPLETED, response_id),
    ):
        db.session.add(
            CallAttempt(
                task_id=task.id,
                campaign_id=later.id,
                contact_id=enrollment.contact_id,
                caller_id=caller.id,
                phone="+14155550124",
                started_at=started,
                answered_at=answered,
                disposition=disposition,
                response_id=response,
            )
        )
    db.session.commit()

    row = funnel_report(*NOV, campaign_id=later.id).overall
    assert _steps(row) == (1, 1, 1, 0, 0, 0)
    assert row.median_days == pytest.approx({"reached": 3, "responded": 0})
