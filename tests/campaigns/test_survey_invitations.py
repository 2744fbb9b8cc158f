"""Survey campaigns: enrollment creates an invitation and queues its message through surveys/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.models import MessageStatus, OutboundMessage
from campaigns.enrollment import enroll_campaign, run_periodic_enrollment
from campaigns.models import (
    Campaign,
    CampaignKind,
    CampaignStateError,
    CampaignStatus,
    Enrollment,
    EnrollmentStatus,
)
from surveys.models import Invitation

from .conftest import NOW


def _messages() -> list[OutboundMessage]:
    return list(db.session.scalars(select(OutboundMessage).order_by(OutboundMessage.id)))


def test_enrollment_invites_and_queues_the_campaign_email(
    make_campaign, make_contact, make_opportunity, version
):
    contact = make_contact(first_name="Noor")
    make_opportunity(account=contact.account, primary_contact=contact)
    campaign = make_campaign(
        kind=CampaignKind.SURVEY,
        survey_version_id=version.id,
        from_name="Morgan at Winback",
        email_subject="{{ first_name }}, why {{ company }} chose someone else",
        email_text="Hi {{ first_name }}: {{ survey_link }}\n{{ sender }}\nStop: {{ opt_out_link }}",
        reminder_max=1,
        reminder_min_days=4,
    )

    first = enroll_campaign(campaign, now=NOW)
    second = enroll_campaign(campaign, now=NOW + timedelta(minutes=5))
    db.session.commit()

    enrollment = db.session.scalars(select(Enrollment)).one()
    invitation = db.session.get(Invitation, enrollment.invitation_id)
    assert (first.invited, second.invited) == (1, 0)
    assert invitation.version_id == version.id
    assert invitation.opportunity_id == enrollment.opportunity_id
    assert (invitation.reminder_max, invitation.reminder_min_days) == (1, 4)
    [message] = _messages()
    assert message.recipient == contact.email
    assert message.subject == f"Noor, why {contact.account.name} chose someone else"
    assert message.body_text.startswith("Hi Noor: http://winback.test/s/")
    assert "Morgan at Winback" in message.body_text
    assert message.status is MessageStatus.QUEUED


def test_the_worker_job_queues_one_reminder_when_it_is_due(
    make_campaign, make_contact, make_opportunity, version
):
    contact = make_contact()
    make_opportunity(account=contact.account, primary_contact=contact)
    make_campaign(
        kind=CampaignKind.BOTH,
        survey_version_id=version.id,
        reminder_subject="Reminder for {{ first_name }}",
        reminder_max=1,
        reminder_min_days=3,
    )

    assert run_periodic_enrollment(now=NOW) == {"enrolled": 1, "invited": 1, "reminders": 0}
    assert run_periodic_enrollment(now=NOW + timedelta(days=1)) == {
        "enrolled": 0,
        "invited": 0,
        "reminders": 0,
    }
    later = NOW + timedelta(days=3)
    assert run_periodic_enrollment(now=later) == {"enrolled": 0, "invited": 0, "reminders": 1}
    assert run_periodic_enrollment(now=later + timedelta(days=5))["reminders"] == 0  # at most one
    db.session.commit()

    assert [m.template for m in _messages()] == ["invitation", "reminder"]
    assert _messages()[1].subject == f"Reminder for {contact.first_name}"


def test_an_sms_survey_campaign_texts_the_contact(make_campaign, make_contact, make_opportunity, version):
    contact = make_contact(first_name="Ravi")
    make_opportunity(account=contact.account, primary_contact=contact)
    campaign = make_campaign(
        kind=CampaignKind.SURVEY,
        survey_channel=Channel.SMS,
        survey_version_id=version.id,
        sms_text="{{ first_name }}: {{ survey_link }} STOP to opt out",
    )
    enroll_campaign(campaign, now=NOW)
    [message] = _messages()
    assert message.channel is Channel.SMS
    assert message.recipient == contact.phone
    assert message.body_text.startswith("Ravi: http://winback.test/s/")


def test_a_survey_campaign_does_not_start_without_a_survey(make_campaign, version):
    campaign = make_campaign(kind=CampaignKind.SURVEY, status=CampaignStatus.DRAFT)
    with pytest.raises(CampaignStateError, match="Choose the survey"):
        campaign.activate(now=NOW)
    campaign.survey_version_id = version.id
    campaign.activate(now=NOW)
    assert campaign.status is CampaignStatus.ACTIVE


def test_suppressed_enrollments_get_no_invitation(make_campaign, make_contact, make_opportunity, version):
    contact = make_contact(email_opt_out_at=NOW - timedelta(days=1))
    make_opportunity(account=contact.account, primary_contact=contact)
    campaign = make_campaign(kind=CampaignKind.SURVEY, survey_version_id=version.id)
    enroll_campaign(campaign, now=NOW)
    enrollment = db.session.scalars(select(Enrollment)).one()
    assert enrollment.status is EnrollmentStatus.SUPPRESSED
    assert enrollment.invitation_id is None
    assert _messages() == []


def test_answering_the_survey_completes_the_enrollment(
    make_campaign, make_contact, make_opportunity, make_user, version
):
    from werkzeug.datastructures import MultiDict

    from surveys.responding import record_phone_response

    contact = make_contact()
    make_opportunity(account=contact.account, primary_contact=contact)
    make_campaign(kind=CampaignKind.SURVEY, survey_version_id=version.id)
    enroll_campaign(db.session.scalars(select(Campaign)).one(), now=NOW)
    db.session.commit()
    enrollment = db.session.scalars(select(Enrollment)).one()
    invitation = db.session.get(Invitation, enrollment.invitation_id)
    q = [question.id for question in version.questions]
    form = MultiDict({f"q{q[0]}": "price", f"q{q[5]}": "no"})

    response, errors = record_phone_response(
        version, form, caller=make_user(), contact=contact, invitation=invitation, now=NOW
    )
    db.session.commit()

    assert errors == {}
    db.session.refresh(enrollment)
    assert enrollment.status is EnrollmentStatus.COMPLETED
    assert enrollment.status_changed_at == NOW
