"""Coding listens to surveys (a response completed) and the codebook (codes merged)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from app.codebook.models import ReasonCode
from app.codebook.signals import codes_merged, codes_merging
from app.coding.models import CodeSetting, Coding, CodingRule, OpportunityReason
from app.coding.service import code_choice_answers, refresh_opportunity_reasons
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


def _drop_duplicates(model, key_columns: tuple[str, ...], loser_id: int, survivor_id: int) -> None:
    survivor_keys = set(
        db.session.execute(
            select(*(getattr(model, c) for c in key_columns)).where(model.reason_code_id == survivor_id)
        ).all()
    )
    for row in db.session.scalars(select(model).where(model.reason_code_id == loser_id)):
        if tuple(getattr(row, c) for c in key_columns) in survivor_keys:
            db.session.delete(row)


def _on_codes_merging(loser: ReasonCode, *, survivor: ReasonCode, **_: object) -> None:
    """Remove what would be duplicated once the loser's references move to the survivor."""
    _drop_duplicates(Coding, ("answer_id", "imported_answer_id", "coder_key"), loser.id, survivor.id)
    _drop_duplicates(CodingRule, ("phrase",), loser.id, survivor.id)
    _drop_duplicates(OpportunityReason, ("opportunity_id",), loser.id, survivor.id)
    db.session.execute(delete(CodeSetting).where(CodeSetting.reason_code_id == loser.id))
    db.session.flush()


def _on_codes_merged(loser: ReasonCode, *, survivor: ReasonCode, **_: object) -> None:
    """Recount the customer-stated reasons (and primary) of every opportunity the survivor now explains."""
    now = utcnow()
    for opportunity_id in list(
        db.session.scalars(
            select(OpportunityReason.opportunity_id).where(OpportunityReason.reason_code_id == survivor.id)
        )
    ):
        refresh_opportunity_reasons(opportunity_id, now=now)


def connect_signals() -> None:
    response_completed.connect(_on_response_completed)
    codes_merging.connect(_on_codes_merging)
    codes_merged.connect(_on_codes_merged)
