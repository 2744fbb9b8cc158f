"""Team scope: whose figures a sales manager's pages show, written once for every page that scopes."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_
from sqlalchemy.sql.elements import ColumnElement

from app.auth.models import User
from app.extensions import db
from app.pipeline.models import SalesTeam

COMPANY_WIDE = "company-wide"
YOUR_TEAM = "your team"


@dataclass(frozen=True)
class TeamScope:
    """The CRM owners and regions of a manager's team; none: the whole company."""

    owners: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()

    @classmethod
    def of(cls, team: SalesTeam | None) -> TeamScope:
        return cls(tuple(team.owners or ()), tuple(team.regions or ())) if team is not None else cls()

    @property
    def is_team(self) -> bool:
        return bool(self.owners or self.regions)

    @property
    def label(self) -> str:
        """What a figure in this scope says it covers: "your team" or "company-wide"."""
        return YOUR_TEAM if self.is_team else COMPANY_WIDE

    def condition(self, owner: ColumnElement, region: ColumnElement) -> ColumnElement[bool] | None:
        """The deals of the team: its owners' deals or its regions' accounts (None: every deal).

        `owner` is the lost deal's CRM owner column and `region` its account's region column, so a
        recycled deal counts for the team that lost the original.
        """
        if not self.is_team:
            return None
        conditions = []
        if self.owners:
            conditions.append(owner.in_(self.owners))
        if self.regions:
            conditions.append(region.in_(self.regions))
        return or_(*conditions)


COMPANY = TeamScope()


def scope_for(user: User | None) -> TeamScope:
    """The scope of a user's "team" figures: a sales manager's team; the whole company for anyone else,
    and for a manager without a team (the pages then say company-wide). The review queue, the digest and
    the homes all scope with it (queue.team_scope is its condition on a requalification's deal)."""
    return TeamScope.of(db.session.get(SalesTeam, user.id) if user is not None else None)
