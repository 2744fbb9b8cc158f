"""The mapping of the CRM's raw loss reasons to reason codes, as the admin edits it."""

from __future__ import annotations

from sqlalchemy import func, select

from app.codebook.models import ReasonCode
from app.crm.models import LossReasonMapping, Opportunity
from app.errors import NotFound
from app.extensions import db


def loss_reason_rows() -> list[tuple[LossReasonMapping, int]]:
    counts = dict(
        db.session.execute(
            select(Opportunity.crm_loss_reason, func.count()).group_by(Opportunity.crm_loss_reason)
        ).all()
    )
    mappings = db.session.scalars(select(LossReasonMapping).order_by(LossReasonMapping.raw_value))
    return [(m, counts.get(m.raw_value, 0)) for m in mappings]


def map_loss_reasons(choices: dict[int, int | None]) -> int:
    """Set the reason code of each mapping id; return how many changed."""
    changed = 0
    for mapping_id, code_id in choices.items():
        mapping = db.session.get(LossReasonMapping, mapping_id)
        if mapping is None:
            continue
        if code_id is not None and db.session.get(ReasonCode, code_id) is None:
            raise NotFound("That reason code does not exist")
        if mapping.reason_code_id != code_id:
            mapping.reason_code_id = code_id
            changed += 1
    db.session.flush()
    return changed
