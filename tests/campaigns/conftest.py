"""Factories for campaign tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from app.codebook.service import ensure_default_codebook
from app.extensions import db
from app.organisation.service import update_organisation
from campaigns.models import Campaign, CampaignKind, CampaignStatus
from surveys.builder import publish
from surveys.library import WIN_LOSS, create_from_template

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def make_campaign() -> Callable[..., Campaign]:
    def factory(**fields) -> Campaign:
        values = {
            "name": f"Campaign {db.session.query(Campaign).count() + 1}",
            "kind": CampaignKind.CALL,
            "status": CampaignStatus.ACTIVE,
            "cooldown_days": 90,
            "max_contacts_per_account": 1,
        }
        values.update(fields)
        campaign = Campaign(**values)
        db.session.add(campaign)
        db.session.commit()
        return campaign

    return factory


@pytest.fixture
def organisation():
    """The organisation with the postal address email campaigns need before they start (CAN-SPAM)."""
    organisation = update_organisation(
        name="Acme Analytics",
        brand_colour="",
        postal_address="Acme Analytics\n1 Market Street\nSan Francisco, CA 94105",
        now=NOW,
    )
    db.session.commit()
    return organisation


@pytest.fixture
def version(organisation):
    """The ready-made win/loss survey, published: what survey campaigns invite to (email campaigns on it
    may start: the organisation has its postal address)."""
    ensure_default_codebook()
    survey = create_from_template(WIN_LOSS, now=NOW, name="Win/loss 2026")
    published = publish(survey.versions[0], now=NOW)
    db.session.commit()
    return published
