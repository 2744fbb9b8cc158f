"""Competitor spellings to Competitor records, for the import: exact after normalisation, else new (with a
merge suggested when a known name is close)."""

from __future__ import annotations

from rapidfuzz import fuzz, process
from sqlalchemy import select

from app.crm.importing.bulk import insert_ignoring_duplicates
from app.crm.importing.formats import company_key, fold
from app.crm.models import Competitor, CompetitorAlias, CompetitorMergeSuggestion
from app.extensions import db

FUZZY_CUTOFF = 88  # only to suggest a merge: never to merge
SUGGESTIONS = CompetitorMergeSuggestion.__table__


class CompetitorMatcher:
    """Map the spellings of a competitor to one Competitor: only an exact match after normalisation.

    'NORTHWIND, Inc.' is 'Northwind'. A spelling that matches nothing becomes a new competitor; when a
    known name is close to it, a merge is suggested for a person to accept (aliases and deals then move).
    """

    def __init__(self) -> None:
        self.choices: dict[str, int] = {}
        for competitor_id, name in db.session.execute(select(Competitor.id, Competitor.name)):
            self.choices.setdefault(company_key(name), competitor_id)
        for competitor_id, alias in db.session.execute(
            select(CompetitorAlias.competitor_id, CompetitorAlias.alias)
        ):
            self.choices[company_key(alias)] = competitor_id
        self.cache: dict[str, int] = {}

    def match(self, raw: str) -> int:
        competitor_id = self.cache.get(raw)  # the same spelling comes back row after row
        if competitor_id is None:
            competitor_id = self.cache[raw] = self._match(raw)
        return competitor_id

    def _match(self, raw: str) -> int:
        key = company_key(raw) or fold(raw)
        competitor_id = self.choices.get(key)
        if competitor_id is not None:
            return competitor_id
        close = None
        if self.choices:
            close = process.extractOne(
                key, self.choices.keys(), scorer=fuzz.WRatio, score_cutoff=FUZZY_CUTOFF
            )
        name = raw.strip()[: Competitor.__table__.c.name.type.length]
        db.session.execute(
            insert_ignoring_duplicates(Competitor.__table__, index_elements=["name"]), [{"name": name}]
        )
        competitor_id = db.session.scalar(select(Competitor.id).where(Competitor.name == name))
        if close and self.choices[close[0]] != competitor_id:
            db.session.execute(
                insert_ignoring_duplicates(SUGGESTIONS, index_elements=["competitor_id", "target_id"]),
                [
                    {
                        "competitor_id": competitor_id,
                        "target_id": self.choices[close[0]],
                        "score": int(close[1]),
                    }
                ],
            )
        self.choices[key] = competitor_id
        return competitor_id
