"""Auto-accept: the model confirms a code on its own above a threshold its measured precision allows, and
the worker's retraining job that runs it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app.codebook.models import ReasonCode
from app.coding.models import CoderKind, CodeSetting, Coding, CodingStatus, TrainedModel
from app.coding.service import QueueFilter, queue_query, refresh_opportunity_reasons
from app.coding.suggest import NotEnoughData, confirmed_count, current_classifier, evaluate, train
from app.errors import ValidationError
from app.extensions import db
from surveys.models import Answer, Response


def set_auto_accept(code: ReasonCode, threshold: float | None, *, min_precision: float) -> CodeSetting:
    """Let the model confirm `code` on its own above `threshold`, if its measured precision allows."""
    setting = db.session.get(CodeSetting, code.id) or CodeSetting(reason_code_id=code.id)
    db.session.add(setting)
    if threshold is not None:
        if not 0.5 <= threshold <= 1.0:
            raise ValidationError("The threshold is a confidence between 0.5 and 1", field="threshold")
        if setting.measured_precision is None or setting.measured_precision < min_precision:
            measured = (
                "not measured yet"
                if setting.measured_precision is None
                else f"{setting.measured_precision:.2f}"
            )
            raise ValidationError(
                f"{code.code}: measured precision is {measured}; auto-accept needs at least "
                f"{min_precision:.2f} (run coding evaluate)",
                field="threshold",
            )
    setting.auto_accept_threshold = threshold
    db.session.flush()
    return setting


def auto_accept(*, now: datetime, min_precision: float, batch: int = 5000) -> int:
    """Confirm the model's codes above each allowed code's threshold on answers nobody coded yet."""
    allowed = {
        s.reason_code_id: s.auto_accept_threshold
        for s in db.session.scalars(select(CodeSetting).where(CodeSetting.auto_accept_threshold.is_not(None)))
        if (s.measured_precision or 0.0) >= min_precision
    }
    classifier = current_classifier()
    if not allowed or classifier is None:
        return 0
    ids = {c.code: c.id for c in db.session.scalars(select(ReasonCode).where(ReasonCode.id.in_(allowed)))}
    rows = db.session.execute(
        select(Answer.id, Answer.text)
        .where(Answer.id.in_(queue_query(QueueFilter(), coder_id=-1)))
        .limit(batch)
    ).all()
    if not rows:
        return 0
    probabilities = classifier.probabilities([text for _, text in rows])
    added = 0
    touched: set[int] = set()
    for (answer_id, _), row in zip(rows, probabilities, strict=True):
        for index, code in enumerate(classifier.codes):
            code_id = ids.get(code)
            if code_id is None or row[index] < allowed[code_id]:
                continue
            db.session.add(
                Coding(
                    answer_id=answer_id,
                    reason_code_id=code_id,
                    source=CoderKind.MODEL,
                    coder_key=CoderKind.MODEL.value,
                    confidence=float(row[index]),
                    status=CodingStatus.CONFIRMED,
                    created_at=now,
                    decided_at=now,
                )
            )
            added += 1
            touched.add(answer_id)
    db.session.flush()
    # The customer-stated reasons of the opportunities concerned follow.
    opportunities = db.session.scalars(
        select(Response.opportunity_id)
        .join(Answer, Answer.response_id == Response.id)
        .where(Answer.id.in_(touched), Response.opportunity_id.is_not(None))
        .distinct()
    )
    for opportunity_id in list(opportunities):
        refresh_opportunity_reasons(opportunity_id, now=now)
    return added


def retrain_if_due(*, now: datetime, every: int, min_precision: float) -> bool:
    """The worker's job: retrain after `every` new confirmations, then auto-accept where allowed."""
    last = db.session.scalar(select(TrainedModel.confirmations).order_by(TrainedModel.id.desc()).limit(1))
    confirmed = confirmed_count()
    trained = False
    if confirmed - (last or 0) >= every:
        try:
            evaluate(now=now)
            train(now=now)
            trained = True
        except NotEnoughData:
            return False
    auto_accept(now=now, min_precision=min_precision)
    return trained
