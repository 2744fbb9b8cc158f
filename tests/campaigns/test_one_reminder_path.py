"""`flask surveys remind` and the worker remind through one function: campaign status and words hold."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.db_types import utcnow
from app.extensions import db
from app.messaging.models import OutboundMessage
from campaigns.enrollment import enroll_campaign
from campaigns.invitations import send_campaign_reminders
from campaigns.models import CampaignKind, CampaignStatus


def _reminders() -> list[OutboundMessage]:
    return list(
        db.session.scalars(
            select(OutboundMessage).where(OutboundMessage.template == "reminder").order_by(OutboundMessage.id)
        )
    )


@pytest.fixture
def invited(make_campaign, make_contact, make_opportunity, version):
    """A survey campaign whose one invitation went out five days ago: a reminder is due."""
    contact = make_contact(first_name="Noor")
    make_opportunity(account=contact.account, primary_contact=contact)
    campaign = make_campaign(
        kind=CampaignKind.SURVEY,
        survey_version_id=version.id,
        from_name="Morgan at Winback",
        reminder_subject="Still time, {{ first_name }}",
        reminder_text="Hi {{ first_name }}: {{ survey_link }}\n{{ sender }}\nStop: {{ opt_out_link }}",
        reminder_max=1,
        reminder_min_days=3,
    )
    assert enroll_campaign(campaign, now=utcnow() - timedelta(days=5)).invited == 1
    db.session.commit()
    return campaign


@pytest.mark.parametrize("status", [CampaignStatus.PAUSED, CampaignStatus.DRAFT, CampaignStatus.FINISHED])
def test_a_campaign_that_is_not_active_sends_no_reminder_by_the_command_nor_the_worker(
    invited, runner, status
):
    invited.status = status
    db.session.commit()

    result = runner.invoke(args=["surveys", "remind"])
    assert result.exit_code == 0, result.output
    assert "Queued 0 reminders." in result.output
    assert send_campaign_reminders(now=utcnow()) == 0
    db.session.commit()
    assert _reminders() == []


def test_the_command_reminds_in_the_campaigns_words_and_the_worker_does_not_repeat_it(invited, runner):
    result = runner.invoke(args=["surveys", "remind", "--sender", "Someone else"])
    assert "Queued 1 reminder." in result.output
    assert send_campaign_reminders(now=utcnow()) == 0  # the one reminder allowed is sent
    db.session.commit()

    [reminder] = _reminders()
    assert reminder.subject == "Still time, Noor"
    assert reminder.body_text.startswith("Hi Noor: ")
    assert "Morgan at Winback" in reminder.body_text  # the campaign signs its own, not --sender
    assert "Someone else" not in reminder.body_text


def test_the_worker_reminds_in_the_same_words_as_the_command(invited):
    assert send_campaign_reminders(now=utcnow()) == 1
    db.session.commit()
    [reminder] = _reminders()
    assert reminder.subject == "Still time, Noor"
    assert "Morgan at Winback" in reminder.body_text
