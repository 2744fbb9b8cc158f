"""Coding listens to surveys (a response completed) and the codebook (codes merged or moved)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app.codebook.changes import snapshot_row
from app.codebook.models import ReasonCode
from app.codebook.signals import (
    codes_merge_preview,
    codes_merged,
    codes_merging,
    codes_moved,
    codes_unmerged,
)
from app.coding.impact import code_impact
from app.coding.models import CodeSetting, Coding, CodingRule, OpportunityReason
from app.coding.service import code_choice_answers, refresh_opportunity_reasons
from app.coding.theme_marks import mark_first_in_theme
from app.coding.vendors import record_chosen_vendors
from app.db_types import utcnow
from app.extensions import db
from surveys.models import Response
from surveys.signals import response_completed


def _on_response_completed(response: Response, *, now: datetime | None = None, **_: object) -> None:
    # Inside the transaction that completed the response: both commit, or neither. Vendor names first,
    # so the deal's competitor is known when its reasons are counted.
    record_chosen_vendors(response)
    code_choice_answers(response, now=now or utcnow())


def _drop_duplicates(model, key_columns: tuple[str, ...], loser_id: int, survivor_id: int) -> list[dict]:
    """Delete the loser's rows the survivor already has; return them as snapshots (for an undo)."""
    survivor_keys = (
        set(
            db.session.execute(
                select(*(getattr(model, c) for c in key_columns)).where(model.reason_code_id == survivor_id)
            ).all()
        )
        if key_columns
        else set()
    )
    removed = []
    for row in db.session.scalars(select(model).where(model.reason_code_id == loser_id)):
        if survivor_id is None or tuple(getattr(row, c) for c in key_columns) in survivor_keys:
            removed.append(_snapshot(row))
            db.session.delete(row)
    return removed


def _snapshot(row) -> dict:
    table = row.__table__
    return snapshot_row(table, {c.name: getattr(row, c.name) for c in table.columns})


def _on_codes_merging(loser: ReasonCode, *, survivor: ReasonCode, **_: object) -> list[dict]:
    """Remove what would be duplicated once the loser's references move to the survivor."""
    removed = _drop_duplicates(
        Coding, ("answer_id", "imported_answer_id", "coder_key"), loser.id, survivor.id
    )
    removed += _drop_duplicates(CodingRule, ("phrase",), loser.id, survivor.id)
    removed += _drop_duplicates(OpportunityReason, ("opportunity_id",), loser.id, survivor.id)
    removed += _drop_duplicates(CodeSetting, (), loser.id, None)
    db.session.flush()
    return removed


def _on_merge_preview(code: ReasonCode, *, survivor: ReasonCode | None, **_: object) -> dict:
    """Count what a merge of `code` into `survivor` (or its retirement, without a survivor) changes here."""
    impact = code_impact(code, survivor)
    if survivor is None:
        lines = [
            ("answers coded with it, which keep it as history", impact.answers),
            ("keyword rules that stop suggesting it", impact.rules),
            ("deals whose loss reasons still show it in reports", impact.deals),
        ]
    else:
        lines = [
            ("answers recoded", impact.answers),
            ("keyword rules moved", impact.rules),
            ("deals whose reasons change in the loss-reason reports", impact.deals),
        ]
    tables = {t.__tablename__ for t in (Coding, CodingRule, CodeSetting, OpportunityReason)}
    return {"tables": tables, "lines": lines}


def _on_codes_merged(loser: ReasonCode, *, survivor: ReasonCode, **_: object) -> None:
    """Recount the customer-stated reasons (and primary) of every opportunity the survivor now explains."""
    _recount(survivor.id)


def _on_codes_unmerged(loser: ReasonCode, *, survivor: ReasonCode, **_: object) -> None:
    """After an undone merge, recount the deals either code explains."""
    _recount(loser.id, survivor.id)


def _on_codes_moved(code: ReasonCode, *, moved: list[int], **_: object) -> None:
    """The moved codes' themes may have changed: mark again the first reasons of the deals that gave one."""
    mark_first_in_theme(
        select(OpportunityReason.opportunity_id).where(OpportunityReason.reason_code_id.in_(moved))
    )


def _recount(*code_ids: int) -> None:
    now = utcnow()
    for opportunity_id in list(
        db.session.scalars(
            select(OpportunityReason.opportunity_id)
            .where(OpportunityReason.reason_code_id.in_(code_ids))
            .distinct()
        )
    ):
        refresh_opportunity_reasons(opportunity_id, now=now)


def connect_signals() -> None:
    response_completed.connect(_on_response_completed)
    codes_merging.connect(_on_codes_merging)
    codes_merged.connect(_on_codes_merged)
    codes_merge_preview.connect(_on_merge_preview)
    codes_unmerged.connect(_on_codes_unmerged)
    codes_moved.connect(_on_codes_moved)
