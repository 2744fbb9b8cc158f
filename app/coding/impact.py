"""What a code's merge or retirement touches in coding: counted the way the merge changes it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, union

from app.codebook.models import ReasonCode
from app.coding.models import Coding, CodingRule, OpportunityReason
from app.extensions import db


@dataclass(frozen=True)
class CodeImpact:
    answers: int  # survey and imported answers with a coding of the code
    rules: int  # keyword rules that move (a phrase the survivor already has is dropped instead)
    deals: int  # opportunities whose customer-stated reasons include the code (the loss-reason reports)


def code_impact(code: ReasonCode, survivor: ReasonCode | None = None) -> CodeImpact:
    """Answers recoded, keyword rules moved and deals whose reported reasons change if `code` is merged
    into `survivor` (without a survivor: the answers, rules and deals that still name the code)."""
    answers = union(
        select(Coding.answer_id.label("id"), func.cast(0, db.Integer).label("kind")).where(
            Coding.reason_code_id == code.id, Coding.answer_id.is_not(None)
        ),
        select(Coding.imported_answer_id, func.cast(1, db.Integer)).where(
            Coding.reason_code_id == code.id, Coding.imported_answer_id.is_not(None)
        ),
    ).subquery()
    rules = select(func.count()).where(CodingRule.reason_code_id == code.id)
    if survivor is not None:
        survivor_phrases = select(CodingRule.phrase).where(CodingRule.reason_code_id == survivor.id)
        rules = rules.where(CodingRule.phrase.not_in(survivor_phrases))
    return CodeImpact(
        answers=db.session.scalar(select(func.count()).select_from(answers)) or 0,
        rules=db.session.scalar(rules) or 0,
        deals=db.session.scalar(
            select(func.count(func.distinct(OpportunityReason.opportunity_id))).where(
                OpportunityReason.reason_code_id == code.id
            )
        )
        or 0,
    )
