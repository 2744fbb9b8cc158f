"""Which of a file's lost deals active campaigns would pick up, so nobody is contacted by surprise.

The rules live in campaigns (a higher layer than crm): campaigns registers a provider on the app under
PROVIDER, and imports ask it through campaign_matches(). Without a provider, nothing matches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app

PROVIDER = "winback.import_campaign_matches"
SHOWN_DEALS = 10


@dataclass(frozen=True)
class CampaignMatch:
    """One active campaign and the deals of the file it would newly enroll (count, the first few by name).

    `keys` are the CRM ids of those deals: campaigns overlap, so the file's total is counted on them
    (deals_picked_up), never by adding the campaigns' counts.
    """

    campaign_id: int
    campaign: str
    count: int
    deals: list[str]
    keys: frozenset[str] = field(default=frozenset(), compare=False)

    def to_json(self) -> dict:
        return {
            "campaign_id": self.campaign_id,
            "campaign": self.campaign,
            "count": self.count,
            "deals": self.deals,
        }


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


def deals_picked_up(matches: Iterable[CampaignMatch]) -> int:
    """How many distinct deals of the file active campaigns would newly enroll: each deal once, however
    many campaigns match it (the headline beside the per-campaign breakdown)."""
    return len({key for match in matches for key in match.keys})


def campaign_matches(crm_source: str, crm_ids: Sequence[str], *, now: datetime) -> list[CampaignMatch]:
    """The active campaigns that would newly enroll these lost deals (not those they already enrolled),
    each with its count and first names."""
    provider = _provider()
    if provider is None or not crm_ids:
        return []
    return provider.match(crm_source, crm_ids, now=now)
