"""The workbench's list of codes: the whole codebook while it is small, a bounded choice once it is not."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import func, select

from app.codebook.models import ReasonCode
from app.codebook.service import CodeNode, code_depth, codebook_query
from app.coding.models import Coding
from app.extensions import db

# Past this many active codes the page would carry thousands of checkboxes: it lists a choice instead.
WORKBENCH_CODE_LIMIT = 200


@dataclass(frozen=True)
class CodeList:
    nodes: list[CodeNode]
    complete: bool  # every active code is listed; otherwise the analyst searches for the others


def workbench_codes(
    *, search: str = "", keep: Collection[int] = (), limit: int = WORKBENCH_CODE_LIMIT
) -> CodeList:
    """The active codes the workbench lists, in tree order, at most `limit` besides the `keep` ones.

    A search lists the active codes whose code or label contains it. Without one: the whole codebook
    while it has at most `limit` active codes; past that, the top-level codes, then the most used ones.
    The codes in `keep` (the analyst's own marks) are always listed, so saving never drops one."""
    active = codebook_query(search).where(ReasonCode.active)
    if search.strip():
        chosen = list(db.session.scalars(active.limit(limit)))
        complete = False
    else:
        chosen = list(db.session.scalars(active.limit(limit + 1)))
        complete = len(chosen) <= limit
        if not complete:
            chosen = _top_level_then_most_used(limit)
    listed = {code.id for code in chosen}
    missing = [i for i in keep if i not in listed]
    if missing:
        chosen += db.session.scalars(select(ReasonCode).where(ReasonCode.id.in_(missing), ReasonCode.active))
    chosen.sort(key=lambda code: code.code)
    return CodeList([CodeNode(code, code_depth(code)) for code in chosen], complete)


def _top_level_then_most_used(limit: int) -> list[ReasonCode]:
    top = list(
        db.session.scalars(
            codebook_query().where(ReasonCode.active, ReasonCode.parent_id.is_(None)).limit(limit)
        )
    )
    room = limit - len(top)
    if room <= 0:
        return top
    uses = func.count(Coding.id)
    most_used = db.session.scalars(
        select(ReasonCode)
        .join(Coding, Coding.reason_code_id == ReasonCode.id)
        .where(ReasonCode.active, ReasonCode.parent_id.is_not(None))
        .group_by(ReasonCode.id)
        .order_by(uses.desc(), ReasonCode.code)
        .limit(room)
    )
    return top + list(most_used)
