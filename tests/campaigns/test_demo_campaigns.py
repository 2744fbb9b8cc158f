"""The demo leaves the campaign pages with realistic content."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from campaigns.enrollment import enrollment_counts
from campaigns.models import Campaign, CampaignStatus


def test_demo_load_creates_four_campaigns_with_enrollments(demo):
    statuses = sorted(c.status.value for c in db.session.scalars(select(Campaign)))
    assert statuses == ["active", "active", "active", "draft"]  # survey by email, by SMS, calls; a draft
    for campaign in db.session.scalars(select(Campaign).where(Campaign.status == CampaignStatus.ACTIVE)):
        by_status, by_reason = enrollment_counts(campaign.id)
        assert by_status.get("active", 0) > 0, campaign.name
        assert by_reason, campaign.name
