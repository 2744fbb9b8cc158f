"""Answer the import's question "which of these deals would an active campaign pick up?", and follow
competitor merges in campaign rules. Registered on the app by create_app (crm cannot import campaigns)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from app.crm.importing.bulk import among
from app.crm.importing.campaign_matches import SHOWN_DEALS, CampaignMatch, Provider
from app.crm.models import Competitor, Opportunity
from app.extensions import db
from campaigns.models import Campaign, CampaignStatus, Enrollment
from campaigns.targeting import TargetingRules, matched_opportunities

CHUNK = 5000


def any_active() -> bool:
    return (
        db.session.scalar(select(Campaign.id).where(Campaign.status == CampaignStatus.ACTIVE).limit(1))
        is not None
    )


def match_imported(crm_source: str, crm_ids: Sequence[str], *, now: datetime) -> list[CampaignMatch]:
    """For each active campaign, how many of these opportunities its rules match and it has not enrolled
    yet (a deal already enrolled is not picked up again), and the first names."""
    campaigns = db.session.scalars(
        select(Campaign).where(Campaign.status == CampaignStatus.ACTIVE).order_by(Campaign.name)
    ).all()
    if not campaigns:
        return []
    keys = sorted(set(crm_ids))
    opp = Opportunity.__table__
    found = []
    for campaign in campaigns:
        matched = matched_opportunities(TargetingRules.of(campaign), now=now).subquery("matched")
        enrolled = (
            select(Enrollment.id)
            .where(Enrollment.campaign_id == campaign.id, Enrollment.opportunity_id == opp.c.id)
            .exists()
        )
        hits: list[tuple[int, str, str]] = []
        for start in range(0, len(keys), CHUNK):
            hits += db.session.execute(
                select(opp.c.id, opp.c.name, opp.c.crm_id)
                .join(matched, matched.c.id == opp.c.id)
                .where(
                    opp.c.crm_source == crm_source,
                    among(opp.c.crm_id, keys[start : start + CHUNK]),
                    ~enrolled,
                )
            ).all()
        if hits:
            names = [name for _, name, _ in sorted(hits)[:SHOWN_DEALS]]
            keys_hit = frozenset(crm_id for *_, crm_id in hits)
            found.append(CampaignMatch(campaign.id, campaign.name, len(hits), names, keys_hit))
    return found


def follow_competitor_merge(survivor: Competitor, *, source_id: int, **_: object) -> None:
    """A campaign that targeted the merged-away competitor now targets the survivor."""
    for campaign in db.session.scalars(select(Campaign)):
        ids = list(campaign.competitor_ids or [])
        if source_id in ids:
            campaign.competitor_ids = sorted({*(i for i in ids if i != source_id), survivor.id})


PROVIDER = Provider(any_active=any_active, match=match_imported, detail_endpoint="campaigns.detail")
