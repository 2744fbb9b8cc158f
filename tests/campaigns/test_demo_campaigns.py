"""The demo leaves the campaign pages with realistic content."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.models import OutboundMessage
from app.organisation.service import read_brand
from campaigns.enrollment import enrollment_counts
from campaigns.models import Campaign, CampaignStatus, Enrollment


def test_demo_load_creates_four_campaigns_with_enrollments(demo):
    statuses = sorted(c.status.value for c in db.session.scalars(select(Campaign)))
    assert statuses == ["active", "active", "active", "draft"]  # survey by email, by SMS, calls; a draft
    for campaign in db.session.scalars(select(Campaign).where(Campaign.status == CampaignStatus.ACTIVE)):
        by_status, by_reason = enrollment_counts(campaign.id)
        assert by_status.get("active", 0) > 0, campaign.name
        assert by_reason, campaign.name


def test_the_demo_organisation_signs_and_brands_what_customers_see(demo, client):
    organisation = read_brand()
    assert organisation.name == "Northbeam Software"
    assert "500 Howard Street" in organisation.postal_address
    assert organisation.has_logo
    assert organisation.colour == "#1d4ed8"
    survey = db.session.scalars(select(Campaign).where(Campaign.name.startswith("Why we lost"))).one()
    invitation_id = db.session.scalar(
        select(Enrollment.invitation_id)
        .where(Enrollment.campaign_id == survey.id, Enrollment.invitation_id.is_not(None))
        .limit(1)
    )
    email = db.session.scalars(
        select(OutboundMessage).where(
            OutboundMessage.idempotency_key == f"invitation:{invitation_id}:invitation:0",
            OutboundMessage.channel == Channel.EMAIL,
        )
    ).one()
    assert email.meta["from"].startswith("Morgan at Northbeam <")
    assert "Thank you,\nMorgan at Northbeam" in email.body_text
    assert "500 Howard Street, Suite 300\nSan Francisco, CA 94105" in email.body_text
    assert client.get("/brand/logo").status_code == 200
