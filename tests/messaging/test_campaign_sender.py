"""A campaign's email as the customer's mail server receives it (real SMTP, aiosmtpd): From, Reply-To,
the From name as the signature, and the footer with the organisation's postal address and unsubscribe link."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.delivery import claim_due_messages, deliver_claimed
from app.messaging.models import OutboundMessage
from app.messaging.optout import opt_out_url
from app.messaging.transports import LogSmsTransport, Transports
from app.organisation.service import update_organisation
from campaigns.enrollment import enroll_campaign
from campaigns.models import Campaign, CampaignKind, CampaignStatus
from tests.survey_helpers import NOW, published_survey

ADDRESS = "Northbeam Software, Inc.\n500 Howard Street, Suite 300\nSan Francisco, CA 94105"


def _campaign(version, **fields) -> Campaign:
    values = {
        "name": "Lost in Q4",
        "kind": CampaignKind.SURVEY,
        "status": CampaignStatus.ACTIVE,
        "survey_channel": Channel.EMAIL,
        "survey_version_id": version.id,
        "cooldown_days": 90,
        "max_contacts_per_account": 1,
    }
    campaign = Campaign(**{**values, **fields})
    db.session.add(campaign)
    db.session.commit()
    return campaign


def _send_one(campaign, make_contact, make_opportunity, smtp_server, smtp_transport):
    sink, _ = smtp_server
    contact = make_contact(email="jane@customer.example", first_name="Jane")
    make_opportunity(account=contact.account, primary_contact=contact)
    enroll_campaign(campaign, now=NOW)
    db.session.commit()
    ids = claim_due_messages(worker_id="w1", now=NOW)
    stats = deliver_claimed(
        ids, Transports(email=smtp_transport, sms=LogSmsTransport()), worker_id="w1", clock=lambda: NOW
    )
    assert stats.sent == 1
    [received] = sink.received
    return contact, received


def test_the_received_email_has_the_campaign_from_reply_to_and_postal_footer(
    make_contact, make_opportunity, smtp_server, smtp_transport
):
    update_organisation(name="Northbeam Software", brand_colour="", postal_address=ADDRESS, now=NOW)
    campaign = _campaign(
        published_survey().published,
        from_name="Morgan at Northbeam",
        from_email="morgan@northbeam.example",
        reply_to="customer-team@northbeam.example",
    )

    contact, received = _send_one(campaign, make_contact, make_opportunity, smtp_server, smtp_transport)

    mail = received.message
    assert mail["From"] == "Morgan at Northbeam <morgan@northbeam.example>"
    assert mail["Reply-To"] == "customer-team@northbeam.example"
    unsubscribe = opt_out_url(contact, Channel.EMAIL)
    text = mail.get_body(("plain",)).get_content()
    # {{ sender }} is the From name: the default wording signs with it.
    assert "Thank you,\nMorgan at Northbeam\n" in text
    assert text.rstrip().endswith(
        "--\nNorthbeam Software\nNorthbeam Software, Inc.\n500 Howard Street, Suite 300\n"
        f"San Francisco, CA 94105\nUnsubscribe: {unsubscribe}"
    )
    html = mail.get_body(("html",)).get_content()
    assert "500 Howard Street, Suite 300<br>San Francisco, CA 94105<br>" in html
    assert f'<a href="{unsubscribe}">Unsubscribe</a>' in html
    assert mail["List-Unsubscribe"].strip() == f"<{unsubscribe}>"


def test_a_from_name_without_an_address_is_sent_at_the_app_address_under_that_name(
    app, make_contact, make_opportunity, smtp_server, smtp_transport
):
    update_organisation(name="Northbeam Software", brand_colour="", postal_address=ADDRESS, now=NOW)
    campaign = _campaign(published_survey().published, from_name="Morgan at Northbeam")

    _, received = _send_one(campaign, make_contact, make_opportunity, smtp_server, smtp_transport)

    assert received.message["From"] == "Morgan at Northbeam <winback@localhost>"
    assert received.message["Reply-To"] is None
    message = db.session.scalars(select(OutboundMessage)).one()
    assert "Morgan at Northbeam" in message.body_text
