"""Requalified calls: a caller's requalified disposition becomes evidence for the pipeline."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app.extensions import db
from app.pipeline.models import Requalification, RequalificationEvidence, RequalificationSource
from app.pipeline.service import add_signal


def evaluate_call(attempt, *, now: datetime) -> Requalification | None:
    """A caller's requalified disposition: its short form is the evidence (each attempt once)."""
    from app.pipeline.scoring import score_call
    from campaigns.models import Enrollment as EnrollmentModel

    if not attempt.requalification:
        return None
    already = db.session.scalar(
        select(RequalificationEvidence.id).where(RequalificationEvidence.call_attempt_id == attempt.id)
    )
    if already is not None:
        return None
    enrollment = db.session.get(EnrollmentModel, attempt.task.enrollment_id)
    if enrollment is None:
        return None
    return add_signal(
        account_id=enrollment.opportunity.account_id,
        opportunity_id=enrollment.opportunity_id,
        campaign_id=attempt.campaign_id,
        source=RequalificationSource.CALL,
        score=score_call(attempt.requalification, attempt.notes),
        now=now,
        call_attempt_id=attempt.id,
    )


def evaluate_calls(*, now: datetime) -> int:
    """Requalified calls without evidence yet (recorded before the pipeline listened); safe to repeat."""
    from campaigns.calls.models import CallAttempt, Disposition

    evidenced = select(RequalificationEvidence.call_attempt_id).where(
        RequalificationEvidence.call_attempt_id.is_not(None)
    )
    attempts = db.session.scalars(
        select(CallAttempt)
        .where(
            CallAttempt.disposition == Disposition.REQUALIFIED,
            CallAttempt.requalification.is_not(None),
            CallAttempt.id.not_in(evidenced),
        )
        .order_by(CallAttempt.id)
    ).all()
    return sum(1 for attempt in attempts if evaluate_call(attempt, now=now) is not None)
