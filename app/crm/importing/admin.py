"""Competitor aliases and the loss-reason mapping, as the admin edits them."""

from __future__ import annotations

from sqlalchemy import func, select

from app.codebook.models import ReasonCode
from app.crm.importing.formats import fold
from app.crm.importing.models import CompetitorAlias, LossReasonMapping
from app.crm.models import Competitor, Opportunity
from app.errors import Conflict, NotFound
from app.extensions import db


def add_alias(alias: str, competitor_id: int) -> CompetitorAlias:
    if db.session.get(Competitor, competitor_id) is None:
        raise NotFound("That competitor does not exist")
    folded = fold(alias)
    if db.session.scalar(select(CompetitorAlias.id).where(CompetitorAlias.alias == folded)):
        raise Conflict(f"'{alias.strip()}' is already an alias", field="alias")
    entry = CompetitorAlias(alias=folded, competitor_id=competitor_id)
    db.session.add(entry)
    db.session.flush()
    # Deals already imported with this spelling now point to the right competitor.
    db.session.execute(
        Opportunity.__table__.update()
        .where(func.lower(Opportunity.competitor_raw) == folded)
        .values(competitor_id=competitor_id)
    )
    return entry


def competitor_rows() -> list[tuple[Competitor, list[str], int]]:
    counts = dict(
        db.session.execute(
            select(Opportunity.competitor_id, func.count()).group_by(Opportunity.competitor_id)
        ).all()
    )
    aliases: dict[int, list[str]] = {}
    for alias in db.session.scalars(select(CompetitorAlias).order_by(CompetitorAlias.alias)):
        aliases.setdefault(alias.competitor_id, []).append(alias.alias)
    return [
        (c, aliases.get(c.id, []), counts.get(c.id, 0))
        for c in db.session.scalars(select(Competitor).order_by(Competitor.name))
    ]


def loss_reason_rows() -> list[tuple[LossReasonMapping, int]]:
    counts = dict(
        db.session.execute(
            select(Opportunity.crm_loss_reason, func.count()).group_by(Opportunity.crm_loss_reason)
        ).all()
    )
    mappings = db.session.scalars(select(LossReasonMapping).order_by(LossReasonMapping.raw_value))
    return [(m, counts.get(m.raw_value, 0)) for m in mappings]


def map_loss_reasons(choices: dict[int, int | None]) -> int:
    """Set the reason code of each mapping id; return how many changed."""
    changed = 0
    for mapping_id, code_id in choices.items():
        mapping = db.session.get(LossReasonMapping, mapping_id)
        if mapping is None:
            continue
        if code_id is not None and db.session.get(ReasonCode, code_id) is None:
            raise NotFound("That reason code does not exist")
        if mapping.reason_code_id != code_id:
            mapping.reason_code_id = code_id
            changed += 1
    db.session.flush()
    return changed
