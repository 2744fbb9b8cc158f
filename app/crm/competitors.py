"""Competitors, their aliases and merges, as the admin edits them."""

from __future__ import annotations

from sqlalchemy import func, select

from app.crm.importing.formats import company_key, fold
from app.crm.models import Competitor, CompetitorAlias, CompetitorMergeSuggestion, Opportunity
from app.crm.signals import competitors_merged
from app.errors import Conflict, NotFound, ValidationError
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


NAME_LENGTH = Competitor.__table__.c.name.type.length


def _clean_name(name: str) -> str:
    clean = " ".join((name or "").split())
    if not clean:
        raise ValidationError("Give the competitor a name", field="name")
    if len(clean) > NAME_LENGTH:
        raise ValidationError(f"A competitor's name has at most {NAME_LENGTH} characters", field="name")
    return clean


def _same_name(name: str, *, other_than: int | None = None) -> Competitor | None:
    """The competitor (or the alias's competitor) an import would match this name to, if any."""
    key = company_key(name)
    for competitor in db.session.scalars(select(Competitor)):
        if competitor.id != other_than and company_key(competitor.name) == key:
            return competitor
    for alias in db.session.scalars(select(CompetitorAlias)):
        if alias.competitor_id != other_than and company_key(alias.alias) == key:
            return alias.competitor
    return None


def add_competitor(name: str) -> Competitor:
    """A competitor the admin names before any import brings it."""
    clean = _clean_name(name)
    if existing := _same_name(clean):
        raise Conflict(f"'{clean}' is already known as '{existing.name}'", field="name")
    competitor = Competitor(name=clean)
    db.session.add(competitor)
    db.session.flush()
    return competitor


def rename_competitor(competitor_id: int, name: str) -> Competitor:
    """Rename; the old name stays an alias, so the CRM's spelling still finds it."""
    competitor = db.session.get(Competitor, competitor_id)
    if competitor is None:
        raise NotFound("That competitor does not exist")
    clean = _clean_name(name)
    if existing := _same_name(clean, other_than=competitor.id):
        raise Conflict(f"'{clean}' is already known as '{existing.name}': merge them instead", field="name")
    old = competitor.name
    competitor.name = clean
    _keep_alias(old, competitor.id)
    db.session.flush()
    return competitor


def _keep_alias(spelling: str, competitor_id: int) -> None:
    folded = fold(spelling)
    alias = db.session.scalar(select(CompetitorAlias).where(CompetitorAlias.alias == folded))
    if alias is None:
        db.session.add(CompetitorAlias(alias=folded, competitor_id=competitor_id))
    else:
        alias.competitor_id = competitor_id


def merge_competitors(source_id: int, survivor_id: int) -> Competitor:
    """Merge source into survivor: its deals, aliases and name (as an alias) move; source is deleted."""
    if source_id == survivor_id:
        raise ValidationError("Choose two different competitors to merge", field="source")
    source = db.session.get(Competitor, source_id)
    survivor = db.session.get(Competitor, survivor_id)
    if source is None or survivor is None:
        raise NotFound("That competitor does not exist")
    db.session.execute(
        Opportunity.__table__.update()
        .where(Opportunity.competitor_id == source.id)
        .values(competitor_id=survivor.id)
    )
    db.session.execute(
        CompetitorAlias.__table__.update()
        .where(CompetitorAlias.competitor_id == source.id)
        .values(competitor_id=survivor.id)
    )
    db.session.execute(
        CompetitorMergeSuggestion.__table__.delete().where(
            (CompetitorMergeSuggestion.competitor_id == source.id)
            | (CompetitorMergeSuggestion.target_id == source.id)
        )
    )
    db.session.flush()
    name = source.name
    db.session.delete(source)
    db.session.flush()
    _keep_alias(name, survivor.id)
    db.session.flush()
    competitors_merged.send(survivor, source_id=source_id)
    return survivor


def accept_suggestion(suggestion_id: int) -> Competitor:
    """The person agrees the two are one: merge the new spelling into the suggested competitor."""
    suggestion = db.session.get(CompetitorMergeSuggestion, suggestion_id)
    if suggestion is None:
        raise NotFound("That suggestion was already handled")
    return merge_competitors(suggestion.competitor_id, suggestion.target_id)


def dismiss_suggestion(suggestion_id: int) -> None:
    """The two are different competitors: forget the suggestion."""
    suggestion = db.session.get(CompetitorMergeSuggestion, suggestion_id)
    if suggestion is None:
        raise NotFound("That suggestion was already handled")
    db.session.delete(suggestion)
    db.session.flush()


def merge_suggestions() -> list[CompetitorMergeSuggestion]:
    return list(db.session.scalars(select(CompetitorMergeSuggestion).order_by(CompetitorMergeSuggestion.id)))


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
