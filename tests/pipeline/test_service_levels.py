"""Service levels: the daily digest through a real SMTP server, the SLA page, the admin's settings and
teams, and a campaign's own requalification rule with its preview."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.auth.models import Role
from app.extensions import db
from app.messaging.delivery import claim_due_messages, deliver_claimed
from app.messaging.models import MessageStatus, OutboundMessage
from app.messaging.transports import LogSmsTransport, SmtpTransport, Transports
from app.pipeline.digest import queue_digests
from app.pipeline.models import PipelineSettings, Requalification, RequalificationRule, SalesTeam
from app.pipeline.service import accept
from tests.pipeline.conftest import NOW


@pytest.fixture
def manager(make_user):
    return make_user(Role.SALES_MANAGER, name="Sam Manager", email="sam@winback.example")


def test_the_daily_digest_reaches_each_manager_once_through_smtp(
    respond, manager, make_user, make_opportunity, smtp_server
):
    sink, port = smtp_server
    other = make_user(Role.SALES_MANAGER, name="Olga Other", email="olga@winback.example")
    db.session.add_all(
        [
            SalesTeam(manager_id=manager.id, owners=["Dana Owner"], regions=[]),
            SalesTeam(manager_id=other.id, owners=["Eve Owner"], regions=[]),
        ]
    )
    respond(now=NOW - timedelta(days=7))  # Dana's, long overdue
    respond(opportunity=make_opportunity(owner="Eve Owner"), now=NOW)  # Olga's team, due in two days
    db.session.commit()

    assert queue_digests(now=NOW, review_url="http://winback.test/pipeline/review") == 1
    assert queue_digests(now=NOW + timedelta(hours=3), review_url="x") == 1  # the same message, not a new one
    db.session.commit()
    assert db.session.scalar(select(OutboundMessage).where(OutboundMessage.template == "pipeline.digest"))

    transport = SmtpTransport(
        "127.0.0.1", port, mail_from="Winback <surveys@winback.example>", starttls=False
    )
    try:
        ids = claim_due_messages(worker_id="w1", now=NOW)
        stats = deliver_claimed(
            ids, Transports(email=transport, sms=LogSmsTransport()), worker_id="w1", clock=lambda: NOW
        )
    finally:
        transport.close()
    assert stats.sent == 1
    [received] = sink.received
    assert received.rcpt_tos == ["sam@winback.example"]
    mail = received.message
    assert mail["Subject"] == "Winback: 1 overdue, 0 due today"
    body = mail.get_body(("plain",)).get_content()
    assert "Overdue (1):" in body
    assert "decision due 2026-11-1" in body
    assert "http://winback.test/pipeline/review" in body
    message = db.session.scalar(select(OutboundMessage))
    assert message.status is MessageStatus.SENT


def test_the_sla_page_shows_compliance_by_manager_and_month(
    client, login, respond, manager, make_opportunity
):
    on_time = respond(now=NOW)
    late = respond(opportunity=make_opportunity(), now=NOW - timedelta(days=10))
    for response, decided in ((on_time, NOW + timedelta(hours=1)), (late, NOW)):
        requalification = db.session.scalar(
            select(Requalification).where(Requalification.account_id == response.opportunity.account_id)
        )
        accept(
            requalification,
            reviewer=manager,
            owner="Dana Owner",
            expected_amount=None,
            next_step="",
            next_step_date=None,
            now=decided,
        )
    db.session.commit()
    login(manager)
    html = client.get("/pipeline/sla").get_data(as_text=True)
    assert "2026-11" in html
    assert "50%" in html
    assert "Sam Manager" in html


def test_the_admin_sets_service_levels_holidays_and_teams(client, login, make_user, manager):
    login(make_user(Role.ADMIN))
    assert client.get("/pipeline/settings").status_code == 200
    response = client.post(
        "/pipeline/settings",
        data={
            "decision_business_days": "3",
            "first_touch_business_days": "5",
            "holiday_country": "de",
            "extra_holidays": "2026-12-24\n2026-12-31",
            f"owners-{manager.id}": "Dana Owner, Eve Owner",
            f"regions-{manager.id}": "West",
        },
    )
    assert response.status_code == 302
    settings = db.session.scalar(select(PipelineSettings))
    assert (settings.decision_business_days, settings.holiday_country) == (3, "DE")
    assert settings.extra_holidays == ["2026-12-24", "2026-12-31"]
    team = db.session.get(SalesTeam, manager.id)
    assert (team.owners, team.regions) == (["Dana Owner", "Eve Owner"], ["West"])


@pytest.mark.parametrize(
    ("country", "days", "message"),
    [
        ("ZZ", "", "No public holidays are known for the country code"),
        ("US", "next friday", "Line 1 of the extra"),
    ],
)
def test_bad_settings_are_explained_not_saved(client, login, make_user, country, days, message):
    login(make_user(Role.ADMIN))
    response = client.post(
        "/pipeline/settings",
        data={
            "decision_business_days": "3",
            "first_touch_business_days": "5",
            "holiday_country": country,
            "extra_holidays": days,
        },
    )
    assert message in response.get_data(as_text=True)
    saved = db.session.scalar(select(PipelineSettings))
    assert saved is None or saved.decision_business_days == 2


def test_a_campaign_rule_decides_and_its_preview_counts_the_responses(
    client, login, make_user, respond, make_campaign, make_opportunity
):
    campaign = make_campaign()
    respond(campaign=campaign)  # score 6
    respond(campaign=campaign, opportunity=make_opportunity(), when="later")  # score 4
    assert len(db.session.scalars(select(Requalification)).all()) == 2
    login(make_user(Role.ADMIN))
    values = {
        "enabled": "y",
        "min_score": "5",
        "open_to_talk_points": "3",
        "contract_end_months": "6",
        "contract_end_points": "2",
        "low_satisfaction_max": "2",
        "low_satisfaction_points": "2",
    }
    preview = client.post(f"/pipeline/rules/{campaign.id}", data={**values, "preview": "1"})
    assert "<strong>1</strong> of the campaign's 2 completed responses would qualify" in preview.get_data(
        as_text=True
    )
    assert db.session.get(RequalificationRule, campaign.id) is None  # a preview saves nothing

    assert client.post(f"/pipeline/rules/{campaign.id}", data={**values, "min_score": "7"}).status_code == 302
    assert db.session.get(RequalificationRule, campaign.id).min_score == 7
    respond(campaign=campaign, opportunity=make_opportunity())  # score 6 < 7
    assert len(db.session.scalars(select(Requalification)).all()) == 2


def test_a_bad_rule_value_is_refused(client, login, make_user, make_campaign):
    campaign = make_campaign()
    login(make_user(Role.ADMIN))
    response = client.post(f"/pipeline/rules/{campaign.id}", data={"min_score": "zero"})
    assert response.status_code == 422
    assert "There is a problem" in response.get_data(as_text=True)


def test_deferred_and_accepted_count_in_their_own_time(respond, manager):
    """A requalification accepted late is overdue on the SLA clock of the decision, not of the first touch."""
    respond(now=datetime(2026, 11, 20, 9, 0, tzinfo=UTC))  # a Friday: due Tuesday 24th
    requalification = db.session.scalar(select(Requalification))
    assert requalification.decision_due_at == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def test_the_campaigns_rule_page_says_why_sales_rejected_its_requalifications(
    client, login, make_user, respond, make_campaign, manager
):
    from app.pipeline.service import reject

    campaign = make_campaign()
    respond(campaign=campaign)
    reject(db.session.scalar(select(Requalification)), reviewer=manager, reason="no_budget", text="", now=NOW)
    db.session.commit()
    login(make_user(Role.ADMIN))
    html = client.get(f"/pipeline/rules/{campaign.id}").get_data(as_text=True)
    assert "No budget: 1" in html


def test_the_rule_page_says_why_sales_rejected_once_in_its_body_and_keeps_a_plain_title(
    client, login, make_user, make_campaign
):
    campaign = make_campaign()
    login(make_user(Role.ADMIN))
    page = client.get(f"/pipeline/rules/{campaign.id}").get_data(as_text=True)
    title = page.split("<title>", 1)[1].split("</title>", 1)[0]
    assert "<" not in title
    assert "Requalification rule" in title
    head = page.split("</head>", 1)[0]
    assert "Why sales rejected" not in head
    assert page.count("Why sales rejected this campaign") == 1
