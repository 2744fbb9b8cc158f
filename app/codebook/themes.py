"""Themes: the codebook's parent codes, into which every report that shows reason codes rolls the children up.

`price.too_high` is in the theme `price`; a deal coded `price` and `price.too_high` counts once in its theme.
The rule lives with the tree it reads (the codebook), so that coding can keep each deal's first reason of a
theme marked (app/coding/theme_marks.py) and the reports count the marked reasons.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import case, literal, select
from sqlalchemy.sql.elements import ColumnElement

from app.codebook.models import ReasonCode
from app.extensions import db

if TYPE_CHECKING:
    from sqlalchemy import Row


@dataclass(frozen=True)
class Theme:
    id: int  # the theme's own reason code
    code: str
    label: str


def codes_by_id() -> dict[int, Row]:
    """Every reason code's id, code, label and parent, by id: the codebook read once."""
    return {
        row.id: row
        for row in db.session.execute(
            select(ReasonCode.id, ReasonCode.code, ReasonCode.label, ReasonCode.parent_id)
        )
    }


def themes_by_code(codes: dict[int, Row] | None = None) -> dict[int, Theme]:
    """The theme of every reason code, by code id: the top of its tree (a top-level code is its own theme).

    The tree is followed by parent; a code whose parent is missing is placed by its dotted path. `codes`:
    the codebook as codes_by_id read it, when the caller needs it too.
    """
    codes = codes_by_id() if codes is None else codes
    by_path = {row.code: row for row in codes.values()}
    themes: dict[int, Theme] = {}
    for code_id, row in codes.items():
        top, seen = row, {code_id}
        while top.parent_id is not None and top.parent_id in codes and top.parent_id not in seen:
            seen.add(top.parent_id)
            top = codes[top.parent_id]
        if top.parent_id is not None and top.parent_id not in codes:
            top = by_path.get(top.code.split(".", 1)[0], top)
        themes[code_id] = Theme(top.id, top.code, top.label)
    return themes


def theme_of(code_id_column: ColumnElement, themes: dict[int, Theme]) -> ColumnElement[int]:
    """The theme's code id of a reason code id column, in SQL (a CASE over the codebook's few codes)."""
    if not themes:
        return literal(None)
    return case({code_id: theme.id for code_id, theme in themes.items()}, value=code_id_column)
