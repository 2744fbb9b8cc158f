"""The recovery funnel and the callers report on a hand-made data set (period: November 2026).

  Email survey (enrolled 11-10)  e1 email sent, opened, completed   reached, responded
                                 e2 email sent, opened              reached
                                 e3 SMS sent                        —
  Calls (enrolled 11-12)         e4 Ann: no answer 11-12; completed 11-13 (300 s, a phone response)
                                 e5 Bob: busy 11-13
                                 e6 Bob: requalified 11-14 (600 s)
  Calls (enrolled 10-01)         e7 Ann: not interested 11-14 (60 s): a November call, an October enrollment
Funnel: enrolled 6, reached 4 (e1 e2 e4 e6), responded 2 (e1 e4).
Callers: Ann 3 calls, 2 connects, 1 complete, 0 requalified, 360 s; Bob 2 calls, 1 connect, 0, 1, 600 s.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

import pytest

from app.auth.models import Role
from app.extensions import db
from app.messaging.channels import Channel
from app.reports.callers import callers_report
from app.reports.funnel import funnel_report
from campaigns.calls.models import CallAttempt, CallTask, Disposition
from campaigns.models import Campaign, CampaignKind, Enrollment
from surveys.models import Invitation

NOV = (date(2026, 11, 1), date(2026, 11, 30))


def at(day: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, 10, tzinfo=UTC)


@pytest.fixture
def activity(make_user, make_contact, make_opportunity, survey, respond):
    ann = make_user(Role.CALLER, name="Ann Caller")
    bob = make_user(Role.CALLER, name="Bob Caller")
    mail = Campaign(name="Email survey", kind=CampaignKind.SURVEY)
    calls = Campaign(name="Calls", kind=CampaignKind.CALL)
    db.session.add_all([mail, calls])
    tokens = itertools.count()

    def enroll(campaign, enrolled_at):
        contact = make_contact()
        enrollment = Enrollment(
            campaign=campaign,
            contact=contact,
            opportunity=make_opportunity(contact.account),
            enrolled_at=enrolled_at,
        )
        db.session.add(enrollment)
        db.session.flush()
        return enrollment

    def invite(enrollment, channel, *, opened=False, completed=False):
        n = next(tokens)
        invitation = Invitation(
            version_id=survey.published.id,
            contact_id=enrollment.contact_id,
            channel=channel,
            nonce=f"{n:032x}",
            token_hash=f"{n:064x}",
            sent_at=at(10),
            opened_at=at(11) if opened else None,
            completed_at=at(11) if completed else None,
        )
        db.session.add(invitation)
        db.session.flush()
        enrollment.invitation_id = invitation.id

    def call(enrollment, caller, day, disposition, seconds=0, response_id=None):
        task = db.session.scalar(db.select(CallTask).where(CallTask.enrollment_id == enrollment.id))
        if task is None:
            task = CallTask(
                campaign_id=enrollment.campaign_id,
                enrollment_id=enrollment.id,
                contact_id=enrollment.contact_id,
                due_at=at(day),
            )
            db.session.add(task)
            db.session.flush()
        answered = disposition not in (Disposition.NO_ANSWER, Disposition.BUSY)
        db.session.add(
            CallAttempt(
                task_id=task.id,
                campaign_id=enrollment.campaign_id,
                contact_id=enrollment.contact_id,
                caller_id=caller.id,
                phone="+14155550123",
                started_at=at(day),
                answered_at=at(day) if answered else None,
                duration_seconds=seconds,
                disposition=disposition,
                response_id=response_id,
            )
        )

    invite(enroll(mail, at(10)), Channel.EMAIL, opened=True, completed=True)
    invite(enroll(mail, at(10)), Channel.EMAIL, opened=True)
    invite(enroll(mail, at(10)), Channel.SMS)
    e4, e5, e6 = (enroll(calls, at(12)) for _ in range(3))
    e7 = enroll(calls, at(1, month=10))
    db.session.commit()
    phone_response = respond("Too dear").response
    call(e4, ann, 12, Disposition.NO_ANSWER)
    call(e4, ann, 13, Disposition.COMPLETED, 300, response_id=phone_response.id)
    call(e5, bob, 13, Disposition.BUSY)
    call(e6, bob, 14, Disposition.REQUALIFIED, 600)
    call(e7, ann, 14, Disposition.NOT_INTERESTED, 60)
    db.session.commit()


def test_funnel_counts_each_enrollment_once_at_each_step(activity):
    report = funnel_report(*NOV)
    overall = report.overall
    assert (overall.enrolled, overall.reached, overall.responded) == (6, 4, 2)
    assert [(r.label, r.enrolled, r.reached, r.responded) for r in report.campaigns] == [
        ("Calls", 3, 2, 1),
        ("Email survey", 3, 2, 1),
    ]
    assert overall.rate("reached") == pytest.approx(4 / 6)


def test_channel_comparison_of_email_sms_and_phone(activity):
    channels = {r.channel: (r.contacted, r.reached, r.responded) for r in funnel_report(*NOV).channels}
    assert channels == {"email": (2, 2, 1), "sms": (1, 0, 0), "phone": (3, 2, 1)}


def test_an_empty_period_shows_zeros(activity):
    report = funnel_report(date(2025, 1, 1), date(2025, 1, 31))
    assert (report.overall.enrolled, report.overall.reached, report.overall.responded) == (0, 0, 0)
    assert [r.contacted for r in report.channels] == [0, 0, 0]


def test_callers_calls_connects_completes_requalified_and_talk_time(activity):
    rows = [
        (r.caller, r.calls, r.connects, r.completes, r.requalified, r.talk_seconds)
        for r in callers_report(*NOV)
    ]
    assert rows == [("Ann Caller", 3, 2, 1, 0, 360), ("Bob Caller", 2, 1, 0, 1, 600)]
    one_day = [
        (r.caller, r.calls, r.connects) for r in callers_report(date(2026, 11, 13), date(2026, 11, 13))
    ]
    assert one_day == [("Ann Caller", 1, 1), ("Bob Caller", 1, 0)]


def test_the_pages_and_their_csv(activity, login, make_user):
    client = login(make_user(Role.SALES_MANAGER))
    args = "from=2026-11-01&to=2026-11-30"
    funnel = client.get(f"/reports/funnel?{args}").get_data(as_text=True)
    assert "not available yet" not in funnel
    assert "<svg" in funnel
    csv = client.get(f"/reports/funnel.csv?{args}").get_data(as_text=True)
    assert csv.splitlines()[1].startswith("All campaigns,6,4,2,0,0,0,66.7,50.0,0.0,0.0,0.0,")
    channels = client.get(f"/reports/funnel.csv?{args}&table=channels").get_data(as_text=True)
    assert channels.splitlines()[1:] == ["email,2,2,1,50.0", "sms,1,0,0,0.0", "phone,3,2,1,33.3"]
    page = client.get(f"/reports/callers?{args}").get_data(as_text=True)
    assert "0:06:00" in page  # Ann's 360 seconds
    callers = client.get(f"/reports/callers.csv?{args}").get_data(as_text=True)
    # No call here was connected through the app: no handling time (the last column).
    assert callers.splitlines()[1:] == ["Ann Caller,3,2,1,0,360,", "Bob Caller,2,1,0,1,600,"]


def test_analysts_see_the_funnel_but_not_the_callers(login, make_user):
    client = login(make_user(Role.ANALYST))
    assert client.get("/reports/funnel").status_code == 200
    assert client.get("/reports/callers").status_code == 403
