"""Sorting of staff tables from the URL (?sort=name, ?sort=-amount), and the page links, shared by every list
page."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import ColumnElement


@dataclass(frozen=True)
class Sort:
    key: str  # what the URL says: "name" ascending, "-name" descending
    clauses: tuple


def parse_sort(value: str | None, columns: Mapping[str, ColumnElement], default: str) -> Sort:
    """The ORDER BY the URL asks for among the allowed columns; anything else falls back to the default."""
    value = (value or "").strip()
    name = value.removeprefix("-")
    if name not in columns:
        value = default
        name = value.removeprefix("-")
    column = columns[name]
    clause = column.desc().nulls_last() if value.startswith("-") else column.asc().nulls_last()
    return Sort(key=value, clauses=(clause,))


class PageLinks:
    """What the pager macro of _ui.html reads beside `page` and `pages` (the names of Flask-SQLAlchemy's
    Pagination), for a page of rows that is not a Pagination."""

    page: int
    pages: int

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1
