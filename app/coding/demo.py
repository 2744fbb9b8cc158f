"""Demo data for coding: the demo CRM's loss reasons mapped to codes, a few keyword rules, and the choice
answers of the demo responses coded."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app.codebook.models import ReasonCode
from app.codebook.service import DEMO_LOSS_REASON_CODES
from app.coding.service import add_rule, backfill_choice_codings
from app.crm.importing.models import LossReasonMapping
from app.extensions import db

DEMO_RULES = {
    "price.too_high": ("too expensive", "price", "cost", "cheaper"),
    "product.missing_feature": ("missing", "feature", "didn't have", "lacked"),
    "product.integration": ("integration", "integrate", "api"),
    "product.usability": ("hard to use", "clunky", "complicated"),
    "support.quality": ("support",),
    "timing.budget": ("budget",),
    "relationship.incumbent": ("current vendor", "incumbent", "stayed with"),
}


def map_demo_loss_reasons() -> int:
    """Point the demo CRM's loss reasons at their codes (mappings the import left unmapped)."""
    codes = {c.code: c.id for c in db.session.scalars(select(ReasonCode))}
    mapped = 0
    for raw, code in DEMO_LOSS_REASON_CODES.items():
        mapping = db.session.scalar(select(LossReasonMapping).where(LossReasonMapping.raw_value == raw))
        if mapping is None:
            mapping = LossReasonMapping(raw_value=raw)
            db.session.add(mapping)
        if mapping.reason_code_id is None and code in codes:
            mapping.reason_code_id = codes[code]
            mapped += 1
    db.session.flush()
    return mapped


def load_coding_demo(*, now: datetime) -> None:
    map_demo_loss_reasons()
    by_code = {c.code: c for c in db.session.scalars(select(ReasonCode))}
    for code, phrases in DEMO_RULES.items():
        for phrase in phrases:
            add_rule(by_code[code], phrase)
    backfill_choice_codings(now=now)
