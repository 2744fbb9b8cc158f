"""Enrollment: suppression reasons, idempotence, concurrency, and the opt-out signal."""

from __future__ import annotations

import json
import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.models import DoNotContactEntry, DoNotContactKind, MessageStatus, OutboundMessage
from app.messaging.signals import contact_opted_out
from app.messaging.suppression import contact_suppression_reason
from campaigns.enrollment import enroll_active_campaigns, enroll_campaign, mark_opted_out
from campaigns.models import (
    CampaignKind,
    CampaignStatus,
    Enrollment,
    EnrollmentStatus,
    EnrollmentSuppression,
)

from .conftest import NOW


def _enrollments() -> list[Enrollment]:
    return list(db.session.scalars(select(Enrollment).order_by(Enrollment.id)))


def _setup_erased(contact, **_):
    contact.erased_at = NOW - timedelta(days=3)


def _setup_opted_out(contact, **_):
    contact.call_opt_out_at = NOW - timedelta(days=1)
    contact.call_opt_out_source = "caller: do not call"


def _setup_no_phone(contact, **_):
    contact.phone = None


def _setup_dnc_phone(contact, **_):
    db.session.add(DoNotContactEntry(kind=DoNotContactKind.PHONE, value=contact.phone, source="admin"))


def _setup_dnc_email(contact, **_):
    db.session.add(DoNotContactEntry(kind=DoNotContactKind.EMAIL, value=contact.email, source="admin"))


def _setup_dnc_domain(contact, **_):
    domain = contact.email.rsplit("@", 1)[1]
    db.session.add(DoNotContactEntry(kind=DoNotContactKind.DOMAIN, value=domain, source="import: dnc.csv"))


def _setup_open_opportunity(contact, make_opportunity, **_):
    make_opportunity(account=contact.account, stage="Negotiation", is_closed=False, close_date=None)


def _setup_recent_enrollment(contact, make_campaign, make_opportunity, **_):
    other = make_campaign(name="Earlier campaign", status=CampaignStatus.FINISHED)
    opp = make_opportunity(account=contact.account, close_date=date(2026, 6, 1))
    db.session.add(
        Enrollment(campaign=other, opportunity=opp, contact=contact, enrolled_at=NOW - timedelta(days=30))
    )


def _setup_old_enrollment(contact, make_campaign, make_opportunity, **_):
    other = make_campaign(name="Last year's campaign", status=CampaignStatus.FINISHED)
    opp = make_opportunity(account=contact.account, close_date=date(2025, 6, 1))
    db.session.add(
        Enrollment(campaign=other, opportunity=opp, contact=contact, enrolled_at=NOW - timedelta(days=200))
    )


def _setup_recent_message(contact, **_):
    db.session.add(
        OutboundMessage(
            idempotency_key=f"manual:{contact.id}",
            channel=Channel.EMAIL,
            recipient=contact.email,
            contact_id=contact.id,
            body_text="Hello",
            status=MessageStatus.SENT,
            sent_at=NOW - timedelta(days=10),
        )
    )


def _nothing(contact, **_):
    pass


# (setup, expected enrollment reason, what core suppression says for the call channel)
SUPPRESSION_CASES = {
    "erased": (_setup_erased, EnrollmentSuppression.ERASED, "erased"),
    "opted out of calls": (_setup_opted_out, EnrollmentSuppression.OPTED_OUT, "opted_out"),
    "no phone number": (_setup_no_phone, EnrollmentSuppression.NO_ADDRESS, "no_address"),
    "phone on do-not-contact": (_setup_dnc_phone, EnrollmentSuppression.DO_NOT_CONTACT, "do_not_contact"),
    "email on do-not-contact": (_setup_dnc_email, EnrollmentSuppression.DO_NOT_CONTACT, "do_not_contact"),
    "domain on do-not-contact": (_setup_dnc_domain, EnrollmentSuppression.DO_NOT_CONTACT, "do_not_contact"),
    "account has an open deal": (_setup_open_opportunity, EnrollmentSuppression.OPEN_OPPORTUNITY, None),
    "enrolled elsewhere 30 days ago": (_setup_recent_enrollment, EnrollmentSuppression.COOL_DOWN, None),
    "sent a message 10 days ago": (_setup_recent_message, EnrollmentSuppression.COOL_DOWN, None),
    "enrolled elsewhere 200 days ago": (_setup_old_enrollment, None, None),
    "nothing against them": (_nothing, None, None),
}


@pytest.mark.parametrize("case", SUPPRESSION_CASES)
def test_every_suppression_reason_is_recorded_at_enrollment(
    case, make_campaign, make_contact, make_opportunity
):
    setup, expected, core_reason = SUPPRESSION_CASES[case]
    contact = make_contact()
    opp = make_opportunity(account=contact.account, primary_contact=contact, close_date=date(2026, 10, 1))
    setup(contact, make_campaign=make_campaign, make_opportunity=make_opportunity)
    db.session.commit()
    campaign = make_campaign(name="Q4 win-back calls", kind=CampaignKind.CALL, lost_within_days=120)

    result = enroll_campaign(campaign, now=NOW)
    db.session.commit()

    mine = [e for e in _enrollments() if e.campaign_id == campaign.id]
    assert [(e.opportunity_id, e.contact_id) for e in mine] == [(opp.id, contact.id)]
    assert mine[0].suppression_reason == expected
    assert mine[0].status == (EnrollmentStatus.SUPPRESSED if expected else EnrollmentStatus.ACTIVE)
    assert result.created == 1
    # The set-based rule agrees with core suppression, contact by contact.
    core = contact_suppression_reason(contact, Channel.CALL)
    assert (core.value if core else None) == core_reason


def test_email_opt_out_suppresses_a_survey_campaign_but_not_a_call_campaign(
    make_campaign, make_contact, make_opportunity
):
    contact = make_contact(email_opt_out_at=NOW - timedelta(days=2), email_opt_out_source="unsubscribe link")
    make_opportunity(account=contact.account, primary_contact=contact)
    survey = make_campaign(name="Survey", kind=CampaignKind.SURVEY, cooldown_days=0)
    calls = make_campaign(name="Calls", kind=CampaignKind.CALL, cooldown_days=0)

    enroll_active_campaigns(now=NOW)
    db.session.commit()

    by_campaign = {e.campaign_id: e for e in _enrollments()}
    assert by_campaign[survey.id].suppression_reason is EnrollmentSuppression.OPTED_OUT
    assert by_campaign[calls.id].status is EnrollmentStatus.ACTIVE


def test_a_contact_reached_through_two_deals_is_contacted_once(make_campaign, make_contact, make_opportunity):
    contact = make_contact()
    older = make_opportunity(account=contact.account, close_date=date(2026, 8, 1))
    newer = make_opportunity(account=contact.account, close_date=date(2026, 10, 1))
    campaign = make_campaign()

    enroll_campaign(campaign, now=NOW)
    db.session.commit()

    states = {e.opportunity_id: (e.status, e.suppression_reason) for e in _enrollments()}
    assert states == {
        newer.id: (EnrollmentStatus.ACTIVE, None),
        older.id: (EnrollmentStatus.SUPPRESSED, EnrollmentSuppression.COOL_DOWN),
    }


def test_enrolling_twice_creates_nothing_new(runner, make_campaign, make_contact, make_opportunity):
    for _ in range(3):
        contact = make_contact()
        make_opportunity(account=contact.account, primary_contact=contact)
    campaign = make_campaign(name="Lost to Globex")

    first = runner.invoke(args=["campaigns", "enroll", "--json"])
    second = runner.invoke(args=["campaigns", "enroll", "--json"])

    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["created"] == 3
    assert json.loads(first.output)["campaigns"][0]["by_status"] == {"active": 3}
    assert json.loads(second.output) == {
        "created": 0,
        "campaigns": [
            {
                "campaign_id": campaign.id,
                "campaign": "Lost to Globex",
                "created": 0,
                "invited": 0,
                "by_status": {},
                "by_reason": {},
            }
        ],
    }
    assert db.session.scalar(select(func.count()).select_from(Enrollment)) == 3


def test_enroll_command_prints_counts_by_status_and_reason(
    runner, make_campaign, make_contact, make_opportunity
):
    reachable = make_contact()
    make_opportunity(account=reachable.account, primary_contact=reachable)
    erased = make_contact(erased_at=NOW)
    make_opportunity(account=erased.account, primary_contact=erased)
    make_campaign(name="Churned mid-market")

    result = runner.invoke(args=["campaigns", "enroll"])

    assert result.exit_code == 0, result.output
    assert "Churned mid-market: 2 enrolled (active 1, suppressed 1)" in result.output
    assert "suppressed, erased: 1" in result.output
    assert "Total: 2 new enrollments." in result.output


def test_only_active_campaigns_enroll(runner, make_campaign, make_contact, make_opportunity):
    contact = make_contact()
    make_opportunity(account=contact.account, primary_contact=contact)
    draft = make_campaign(name="Draft", status=CampaignStatus.DRAFT)
    make_campaign(name="Paused", status=CampaignStatus.PAUSED)

    result = runner.invoke(args=["campaigns", "enroll"])
    refused = runner.invoke(args=["campaigns", "enroll", "--campaign", str(draft.id)])

    assert "No active campaigns." in result.output
    assert refused.exit_code != 0
    assert "Only an active campaign enrolls" in refused.output
    assert _enrollments() == []


def test_the_database_refuses_a_duplicate_enrollment(make_campaign, make_contact, make_opportunity):
    contact = make_contact()
    opp = make_opportunity(account=contact.account)
    campaign = make_campaign()
    db.session.add(Enrollment(campaign=campaign, opportunity=opp, contact=contact, enrolled_at=NOW))
    db.session.commit()
    db.session.add(Enrollment(campaign=campaign, opportunity=opp, contact=contact, enrolled_at=NOW))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    assert len(_enrollments()) == 1


def test_two_enrollers_at_once_create_no_duplicates(app, make_campaign, make_contact, make_opportunity):
    for _ in range(40):
        contact = make_contact()
        make_opportunity(account=contact.account, primary_contact=contact)
        make_contact(account=contact.account)
    campaign = make_campaign(max_contacts_per_account=2)
    campaign_id = campaign.id
    barrier = threading.Barrier(2)
    created: list[int] = []
    errors: list[BaseException] = []

    def enroller() -> None:
        try:
            with app.app_context():
                from campaigns.models import Campaign

                mine = db.session.get(Campaign, campaign_id)
                barrier.wait()
                created.append(enroll_campaign(mine, now=NOW).created)
                db.session.commit()
                db.session.remove()
        except BaseException as error:  # noqa: BLE001 (reported by the assertion below)
            errors.append(error)

    threads = [threading.Thread(target=enroller) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(created) == 80
    pairs = db.session.execute(select(Enrollment.opportunity_id, Enrollment.contact_id)).all()
    assert len(pairs) == len(set(pairs)) == 80


def test_an_opt_out_ends_active_enrollments_on_that_channel(make_campaign, make_contact, make_opportunity):
    contact = make_contact()
    make_opportunity(account=contact.account, primary_contact=contact)
    survey = make_campaign(name="Survey", kind=CampaignKind.SURVEY, cooldown_days=0)
    calls = make_campaign(name="Calls", kind=CampaignKind.CALL, cooldown_days=0)
    enroll_active_campaigns(now=NOW)
    db.session.commit()

    contact_opted_out.send(contact, channel=Channel.EMAIL, source="unsubscribe link", now=NOW)
    db.session.commit()

    states = {e.campaign_id: e.status for e in _enrollments()}
    assert states == {survey.id: EnrollmentStatus.OPTED_OUT, calls.id: EnrollmentStatus.ACTIVE}
    assert mark_opted_out(contact.id, channel=None, now=NOW) == 1  # every channel: the call one too
    db.session.commit()
    assert {e.status for e in _enrollments()} == {EnrollmentStatus.OPTED_OUT}
