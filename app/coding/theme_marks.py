"""Each deal's first reason in each theme, marked, so that a report counts a deal once per theme by counting
the marked reasons (a filtered GROUP BY) instead of the distinct (deal, theme) pairs (a second pass).

The first reason of a theme is the deal's reason with the lowest code id among its codes of that theme
(app.codebook.themes). The marks follow the codings (refresh_opportunity_reasons) and the codebook's tree:
a code moved, alone or by a merge, with its sub-codes (app/coding/signals.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, exists, update
from sqlalchemy.orm import aliased

from app.codebook.themes import Theme, theme_of, themes_by_code
from app.coding.models import OpportunityReason
from app.extensions import db


def mark_first_in_theme(
    opportunity_ids: Iterable[int] | Select | None = None, *, themes: dict[int, Theme] | None = None
) -> None:
    """Mark the first reason of each theme of the given deals (every deal when None), unmark the others.

    One UPDATE that writes only the rows whose mark changes; each row looks up the deal's other reasons
    by the (opportunity, code) unique index.
    """
    if opportunity_ids is not None and not isinstance(opportunity_ids, Select):
        opportunity_ids = list(opportunity_ids)
        if not opportunity_ids:
            return
    themes = themes_by_code() if themes is None else themes
    earlier = aliased(OpportunityReason)
    first = ~exists().where(
        earlier.opportunity_id == OpportunityReason.opportunity_id,
        earlier.reason_code_id < OpportunityReason.reason_code_id,
        theme_of(earlier.reason_code_id, themes) == theme_of(OpportunityReason.reason_code_id, themes),
    )
    statement = update(OpportunityReason).where(OpportunityReason.first_in_theme != first)
    if opportunity_ids is not None:
        statement = statement.where(OpportunityReason.opportunity_id.in_(opportunity_ids))
    db.session.execute(
        statement.values(first_in_theme=first), execution_options={"synchronize_session": False}
    )
