"""Requalifications: created from completed responses and requalified calls, reviewed by sales managers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app.audit.service import record_event
from app.auth.models import User
from app.errors import ValidationError
from app.extensions import db
from app.pipeline.crm_push import queue_crm_push
from app.pipeline.models import (
    OPEN_STATUSES,
    REJECT_REASONS,
    AlreadyDecided,
    PipelineSettings,
    Requalification,
    RequalificationEvidence,
    RequalificationRule,
    RequalificationSource,
    RequalificationStatus,
)
from app.pipeline.scoring import Score, default_rule, qualifies, score_response
from app.pipeline.sla import BusinessCalendar
from app.pipeline.webhook import queue_webhook
from campaigns.models import Enrollment
from surveys.models import Answer, Question, Response, ResponseStatus

ENTITY = "requalification"


def pipeline_settings() -> PipelineSettings:
    """The one settings row, created with the defaults the first time."""
    settings = db.session.scalar(select(PipelineSettings).order_by(PipelineSettings.id).limit(1))
    if settings is None:
        settings = PipelineSettings(
            decision_business_days=2, first_touch_business_days=3, holiday_country="US", extra_holidays=[]
        )
        db.session.add(settings)
        db.session.flush()
    return settings


def calendar_for(settings: PipelineSettings) -> BusinessCalendar:
    return BusinessCalendar(settings.holiday_country, settings.extra_holidays or [])


def rule_for(campaign_id: int | None) -> RequalificationRule:
    rule = db.session.get(RequalificationRule, campaign_id) if campaign_id else None
    return rule or default_rule()


def open_requalification(account_id: int) -> Requalification | None:
    return db.session.scalar(
        select(Requalification).where(
            Requalification.account_id == account_id, Requalification.status.in_(OPEN_STATUSES)
        )
    )


def add_signal(
    *,
    account_id: int,
    opportunity_id: int | None,
    campaign_id: int | None,
    source: RequalificationSource,
    score: Score,
    now: datetime,
    response_id: int | None = None,
    call_attempt_id: int | None = None,
) -> Requalification:
    """Open a requalification for the account, or add the evidence to its open one (at most one, by index)."""
    requalification = open_requalification(account_id)
    if requalification is None:
        settings = pipeline_settings()
        requalification = Requalification(
            account_id=account_id,
            opportunity_id=opportunity_id,
            campaign_id=campaign_id,
            source=source,
            status=RequalificationStatus.PENDING,
            score=0,
            score_reasons=[],
            created_at=now,
            updated_at=now,
            decision_due_at=calendar_for(settings).add_business_days(now, settings.decision_business_days),
        )
        try:
            with db.session.begin_nested():  # a concurrent signal for the same account wins: join it
                db.session.add(requalification)
        except IntegrityError:
            requalification = open_requalification(account_id)
            if requalification is None:  # it was decided in the meantime: nothing open to join
                raise
    evidence = RequalificationEvidence(
        source=source,
        response_id=response_id,
        call_attempt_id=call_attempt_id,
        score=score.points,
        reasons=list(score.reasons),
        details=list(score.details),
        created_at=now,
    )
    requalification.evidence.append(evidence)
    requalification.score = (requalification.score or 0) + score.points
    requalification.score_reasons = [*(requalification.score_reasons or []), *score.reasons]
    requalification.updated_at = now
    if requalification.opportunity_id is None:
        requalification.opportunity_id = opportunity_id
    if requalification.campaign_id is None:
        requalification.campaign_id = campaign_id
    db.session.flush()
    record_event(
        "requalification.signal",
        ENTITY,
        requalification.id,
        actor_label="system",
        details={
            "source": source.value,
            "score": score.points,
            "response": response_id,
            "call": call_attempt_id,
        },
        now=now,
    )
    return requalification


def _campaign_of(response: Response) -> int | None:
    """The campaign that invited the respondent, or whose call took the answers down."""
    from campaigns.calls.models import CallTask

    if response.invitation_id is not None:
        campaign_id = db.session.scalar(
            select(Enrollment.campaign_id).where(Enrollment.invitation_id == response.invitation_id)
        )
        if campaign_id is not None:
            return campaign_id
    return db.session.scalar(
        select(CallTask.campaign_id).where(CallTask.response_id == response.id).order_by(CallTask.id).limit(1)
    )


def _account_of(response: Response) -> tuple[int | None, int | None]:
    if response.opportunity is not None:
        return response.opportunity.account_id, response.opportunity_id
    if response.contact is not None:
        return response.contact.account_id, None
    return None, None


def evaluate_response(response: Response, *, now: datetime) -> Requalification | None:
    """Requalify the response's account when its answers cross its campaign's rule (each response once)."""
    if response.status is not ResponseStatus.COMPLETE:
        return None
    already = db.session.scalar(
        select(RequalificationEvidence.id).where(RequalificationEvidence.response_id == response.id)
    )
    if already is not None:
        return None
    account_id, opportunity_id = _account_of(response)
    if account_id is None:
        return None
    campaign_id = _campaign_of(response)
    rule = rule_for(campaign_id)
    score = score_response(response, rule, today=now.date())
    if not qualifies(score, rule):
        return None
    return add_signal(
        account_id=account_id,
        opportunity_id=opportunity_id,
        campaign_id=campaign_id,
        source=RequalificationSource.SURVEY,
        score=score,
        now=now,
        response_id=response.id,
    )


@dataclass
class EvaluateResult:
    responses: int = 0
    created: int = 0
    joined: int = 0
    calls: int = 0


def evaluate_all(*, now: datetime, chunk: int = 500, checkpoint=None) -> EvaluateResult:
    """Evaluate every complete response (and requalified call) without evidence yet; safe to repeat."""
    result = EvaluateResult()
    evidenced = select(RequalificationEvidence.response_id).where(
        RequalificationEvidence.response_id.is_not(None)
    )
    after = 0
    while True:
        responses = db.session.scalars(
            select(Response)
            .where(
                Response.status == ResponseStatus.COMPLETE,
                Response.id > after,
                Response.id.not_in(evidenced),
            )
            .options(
                selectinload(Response.answers).selectinload(Answer.question).selectinload(Question.options),
                selectinload(Response.opportunity),
                selectinload(Response.contact),
            )
            .order_by(Response.id)
            .limit(chunk)
        ).all()
        if not responses:
            break
        for response in responses:
            result.responses += 1
            before = open_requalification_id(response)
            requalification = evaluate_response(response, now=now)
            if requalification is not None:
                if before == requalification.id:
                    result.joined += 1
                else:
                    result.created += 1
        after = responses[-1].id
        if checkpoint:
            checkpoint()
    from app.pipeline.calls import evaluate_calls  # it builds on this module's add_signal

    result.calls = evaluate_calls(now=now)
    return result


def open_requalification_id(response: Response) -> int | None:
    account_id, _ = _account_of(response)
    if account_id is None:
        return None
    found = open_requalification(account_id)
    return found.id if found else None


# --- review -------------------------------------------------------------------------------------------


def reviewable(ids: Iterable[int]) -> list[Requalification]:
    """The ticked requalifications in id order: two bulk decisions lock their rows in the same order, so
    they wait for each other instead of deadlocking."""
    return list(
        db.session.scalars(
            select(Requalification).where(Requalification.id.in_(list(ids))).order_by(Requalification.id)
        )
    )


def _take_decision(
    requalification: Requalification,
    status: RequalificationStatus,
    *,
    reviewer: User,
    now: datetime,
    **values,
) -> None:
    """Move the row to `status` only while it is still open, in one conditional UPDATE.

    Of two managers deciding at once, the database lets one through (PostgreSQL's row lock, SQLite's
    write lock) and the other's UPDATE finds the row decided: that one is told by whom, and writes
    no audit event and queues no webhook. Called before the object is touched, so that no autoflush
    writes the status unconditionally first.
    """
    taken = db.session.execute(
        Requalification.guarded_move(
            requalification.id, OPEN_STATUSES, status, reviewer_id=reviewer.id, updated_at=now, **values
        ),
        execution_options={"synchronize_session": False},
    ).rowcount
    if taken != 1:
        db.session.refresh(requalification)
        raise already_decided(requalification)


def already_decided(requalification: Requalification) -> AlreadyDecided:
    """The sentence for the manager who came second: what was decided, and by whom."""
    who = requalification.reviewer.name if requalification.reviewer is not None else "someone else"
    return AlreadyDecided(
        f"{requalification.winback_id} was already {requalification.status.value} by {who}: "
        "your decision was not recorded."
    )


def accept(
    requalification: Requalification,
    *,
    reviewer: User,
    owner: str,
    expected_amount: Decimal | None,
    next_step: str,
    next_step_date: date | None,
    now: datetime,
    settings: PipelineSettings | None = None,
) -> Requalification:
    owner = (owner or "").strip()
    if not owner:
        raise ValidationError("Choose the owner who takes the deal.", field="owner")
    if expected_amount is not None and expected_amount < 0:
        raise ValidationError("The expected amount cannot be negative.", field="expected_amount")
    settings = settings or pipeline_settings()
    _take_decision(
        requalification, RequalificationStatus.ACCEPTED, reviewer=reviewer, now=now, decided_at=now
    )
    requalification.accept(reviewer=reviewer, now=now)
    requalification.owner = owner[:255]
    requalification.expected_amount = expected_amount
    requalification.next_step = (next_step or "").strip()[:500] or None
    requalification.next_step_date = next_step_date
    requalification.first_touch_due_at = calendar_for(settings).add_business_days(
        now, settings.first_touch_business_days
    )
    record_event(
        "requalification.accepted",
        ENTITY,
        requalification.id,
        actor=reviewer,
        details={
            "owner": requalification.owner,
            "expected_amount": str(expected_amount) if expected_amount is not None else None,
            "next_step": requalification.next_step,
            "next_step_date": next_step_date.isoformat() if next_step_date else None,
        },
        now=now,
    )
    db.session.flush()
    queue_webhook(requalification, "requalification.accepted", settings=settings, now=now)
    queue_crm_push(requalification, now=now)
    return requalification


def record_first_touch(requalification: Requalification, *, by: User, now: datetime) -> Requalification:
    """The owner reached the customer about an accepted deal (when the CRM does not tell us first)."""
    if requalification.status is not RequalificationStatus.ACCEPTED:
        raise ValidationError("Only an accepted deal has a first touch to record.")
    if requalification.first_touch_at is not None:
        raise ValidationError(
            f"The first touch was already recorded on {requalification.first_touch_at:%d %b %Y}."
        )
    requalification.first_touch_at = now
    record_event("requalification.first_touch", ENTITY, requalification.id, actor=by, details={}, now=now)
    db.session.flush()
    return requalification


def reject(
    requalification: Requalification, *, reviewer: User, reason: str, text: str, now: datetime
) -> Requalification:
    if reason not in REJECT_REASONS:
        raise ValidationError("Choose a reason from the list.", field="reason")
    text = (text or "").strip()
    if reason == "other" and not text:
        raise ValidationError("Say why in a few words when the reason is Other.", field="text")
    _take_decision(
        requalification, RequalificationStatus.REJECTED, reviewer=reviewer, now=now, decided_at=now
    )
    requalification.reject(reviewer=reviewer, now=now)
    requalification.reject_reason = reason
    requalification.reject_text = text[:2000] or None
    record_event(
        "requalification.rejected",
        ENTITY,
        requalification.id,
        actor=reviewer,
        details={"reason": reason, "text": requalification.reject_text},
        now=now,
    )
    db.session.flush()
    return requalification


def defer(
    requalification: Requalification, *, reviewer: User, until: date | None, now: datetime
) -> Requalification:
    if until is None:
        raise ValidationError("Say until when to defer it.", field="until")
    if until <= now.date():
        raise ValidationError("The deferral date must be in the future.", field="until")
    _take_decision(
        requalification, RequalificationStatus.DEFERRED, reviewer=reviewer, now=now, deferred_until=until
    )
    requalification.defer(until, reviewer=reviewer, now=now)
    record_event(
        "requalification.deferred",
        ENTITY,
        requalification.id,
        actor=reviewer,
        details={"until": until.isoformat()},
        now=now,
    )
    db.session.flush()
    return requalification


def return_deferred(now: datetime) -> int:
    """Deferrals whose date has come wait for a decision again."""
    due = list(
        db.session.scalars(
            select(Requalification).where(
                Requalification.status == RequalificationStatus.DEFERRED,
                Requalification.deferred_until <= now.date(),
            )
        )
    )
    returned = 0
    for requalification in due:
        # Only if still deferred: a manager may decide it between the read above and this write.
        back = db.session.execute(
            Requalification.guarded_move(
                requalification.id,
                [RequalificationStatus.DEFERRED],
                RequalificationStatus.PENDING,
                updated_at=now,
            ),
            execution_options={"synchronize_session": False},
        ).rowcount
        if not back:
            db.session.expire(requalification)
            continue
        requalification.come_back(now)
        record_event("requalification.returned", ENTITY, requalification.id, actor_label="system", now=now)
        returned += 1
    db.session.flush()
    return returned
