"""Which of a file's lost deals active campaigns would pick up, so nobody is contacted by surprise.

The rules live in campaigns (a higher layer than crm): campaigns registers a provider on the app under
PROVIDER, and imports ask it through campaign_matches(). Without a provider, nothing matches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from flask import current_app

PROVIDER = "winback.import_campaign_matches"
SHOWN_DEALS = 10


@dataclass(frozen=True)
class CampaignMatch:
    """One active campaign and the deals of the file it matches (count, and the first few by name)."""

    campaign_id: int
    campaign: str
    count: int
    deals: list[str]

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Provider:
    """What campaigns registers: whether any campaign is active, and the matches of stored deals.

    match(crm_source, crm_ids, *, now) looks at the stored opportunities with those keys (in a dry run,
    before its savepoint is rolled back).
    """

    any_active: Callable[[], bool]
    match: Callable[..., list[CampaignMatch]]
    detail_endpoint: str  # a campaign's page, url_for(detail_endpoint, campaign_id=...)


def _provider() -> Provider | None:
    return current_app.extensions.get(PROVIDER)


def campaign_detail_endpoint() -> str | None:
    """Where a matched campaign links to (templates), or None without campaigns."""
    provider = _provider()
    return provider.detail_endpoint if provider else None


def any_active_campaign() -> bool:
    provider = _provider()
    return provider is not None and provider.any_active()


def campaign_matches(crm_source: str, crm_ids: Sequence[str], *, now: datetime) -> list[CampaignMatch]:
    """The active campaigns that would pick up these lost deals, each with its count and first names."""
    provider = _provider()
    if provider is None or not crm_ids:
        return []
    return provider.match(crm_source, crm_ids, now=now)
