"""Demo campaigns: active survey campaigns by email and by SMS, an active call campaign and a draft, with
enrollments."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal

from sqlalchemy import select

from app.auth.models import Role, User
from app.extensions import db
from app.messaging.channels import Channel
from campaigns.calls.demo import prepare_demo_queue
from campaigns.enrollment import enroll_campaign
from campaigns.models import Campaign, CampaignKind, CampaignStatus
from surveys.builder import publish
from surveys.library import WIN_LOSS, create_from_template
from surveys.models import SurveyVersion, VersionStatus


def _published_survey(now: datetime) -> SurveyVersion:
    """The first published survey version, or the ready-made win/loss survey, published."""
    version = db.session.scalar(
        select(SurveyVersion)
        .where(SurveyVersion.status == VersionStatus.PUBLISHED)
        .order_by(SurveyVersion.id)
    )
    if version is not None:
        return version
    survey = create_from_template(WIN_LOSS, now=now, name="Win/loss survey")
    return publish(survey.versions[0], now=now)


def load_demo_campaigns(*, now: datetime) -> dict[str, int]:
    """Create the demo campaigns and enroll the active ones; the caller commits."""
    callers = list(db.session.scalars(select(User).where(User.role == Role.CALLER)))
    version = _published_survey(now)
    survey = Campaign(
        name="Why we lost: Q3–Q4 win/loss survey",
        kind=CampaignKind.SURVEY,
        survey_version=version,
        lost_within_days=180,
        wait_days_after_close=14,
        max_contacts_per_account=2,
        title_keywords=["VP", "Director", "Head", "Chief", "Manager"],
        cooldown_days=90,
        from_name="Morgan at Northbeam",
        reply_to="customer-team@northbeam.example",
        email_subject="{{ first_name }}, two minutes on your decision at {{ company }}?",
        email_text=(
            "Hello {{ first_name }},\n\nYou recently chose another solution over ours. Could you tell us "
            "why? It takes about two minutes:\n\n{{ survey_link }}\n\nThank you,\n{{ sender }}\n\n"
            "No more emails: {{ opt_out_link }}\n"
        ),
        reminder_subject="A gentle reminder, {{ first_name }}",
        reminder_max=2,
        reminder_min_days=4,
    )
    calls = Campaign(
        name="Call back: lost to a competitor, over $25k",
        kind=CampaignKind.CALL,
        lost_within_days=365,
        wait_days_after_close=30,
        amount_min=Decimal("25000"),
        max_contacts_per_account=1,
        cooldown_days=60,
        call_max_attempts=4,
        call_retry_hours={"no_answer": 24, "busy": 2, "voicemail": 48},
        calling_window_start=time(9, 30),
        calling_window_end=time(17, 0),
        callers=callers,
        survey_version=version,  # the call script: answers taken down on the call count as responses
    )
    draft = Campaign(
        name="Enterprise lost on price (draft)",
        kind=CampaignKind.BOTH,
        status=CampaignStatus.DRAFT,
        survey_version=version,
        lost_within_days=365,
        segments=["Enterprise"],
        loss_reasons=["Price", "Budget"],
        max_contacts_per_account=3,
        title_keywords=["Procurement", "CFO", "Finance"],
        callers=callers,
    )
    texts = Campaign(
        # Deals lost in the last two weeks, too recent for the email campaign's 14-day wait.
        name="Text survey: deals lost in the last two weeks",
        kind=CampaignKind.SURVEY,
        survey_channel=Channel.SMS,
        survey_version=version,
        lost_within_days=14,
        wait_days_after_close=2,
        max_contacts_per_account=1,
        cooldown_days=90,
    )
    db.session.add_all([survey, calls, draft, texts])
    db.session.flush()
    enrolled = 0
    for campaign in (survey, calls, texts):
        campaign.activate(now=now)
        enrolled += enroll_campaign(campaign, now=now).created
    queued = prepare_demo_queue(calls, now=now).created
    return {"campaigns": 4, "enrollments": enrolled, "call_tasks": queued}
