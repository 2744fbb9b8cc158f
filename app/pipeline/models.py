"""Requalifications (a lost deal that may come back), their evidence, the campaigns' rules, sales teams and
the service-level settings."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Numeric, String, Text, Update, update
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.crm.models import Account, Opportunity
from app.db_types import UTCDateTime, str_enum, utcnow
from app.errors import Conflict
from app.extensions import db


class RequalificationStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    DEFERRED = "deferred"

    @property
    def label(self) -> str:
        return {
            "pending": "Pending review",
            "accepted": "Accepted",
            "rejected": "Rejected",
            "deferred": "Deferred",
        }[self.value]


OPEN_STATUSES = (RequalificationStatus.PENDING, RequalificationStatus.DEFERRED)
_DECISIONS = frozenset(
    {RequalificationStatus.ACCEPTED, RequalificationStatus.REJECTED, RequalificationStatus.DEFERRED}
)
# Where a requalification may go from each status: an open one is decided (or deferred again); a
# deferral that ran out waits for a decision again; a decision is final.
TRANSITIONS: dict[RequalificationStatus, frozenset[RequalificationStatus]] = {
    RequalificationStatus.PENDING: _DECISIONS,
    RequalificationStatus.DEFERRED: _DECISIONS | {RequalificationStatus.PENDING},
    RequalificationStatus.ACCEPTED: frozenset(),
    RequalificationStatus.REJECTED: frozenset(),
}


class RequalificationSource(enum.StrEnum):
    SURVEY = "survey"
    CALL = "call"


class ReviewStateError(Conflict):
    code = "review_state"


class AlreadyDecided(ReviewStateError):
    """Another manager decided first: the sentence says what they decided and who they are."""

    code = "already_decided"


# Why a sales manager turns a requalification down: the reason feeds back to the campaign's report.
REJECT_REASONS = {
    "no_budget": "No budget",
    "not_decision_maker": "Not the decision maker",
    "bad_timing": "Timing too far out",
    "existing_customer": "Already in the pipeline",
    "not_a_fit": "Not a fit for us",
    "other": "Other",
}


class Requalification(db.Model):
    __tablename__ = "requalifications"
    __table_args__ = (
        # One open requalification per account: a second signal adds evidence to it.
        Index(
            "uq_requalifications_one_open",
            "account_id",
            unique=True,
            sqlite_where=db.text("status IN ('pending', 'deferred')"),
            postgresql_where=db.text("status IN ('pending', 'deferred')"),
        ),
        Index("ix_requalifications_status_score", "status", "score"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    opportunity_id: Mapped[int | None] = mapped_column(
        ForeignKey("opportunities.id", ondelete="SET NULL"), index=True
    )
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), index=True
    )
    source: Mapped[RequalificationSource] = mapped_column(str_enum(RequalificationSource, 8))
    status: Mapped[RequalificationStatus] = mapped_column(
        str_enum(RequalificationStatus, 10), default=RequalificationStatus.PENDING
    )
    score: Mapped[int] = mapped_column(default=0)
    score_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decision_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deferred_until: Mapped[date | None]
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The manager who took an unassigned requalification (its deal matches no team), or was given it.
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # Accepted: the new opportunity's owner, amount and next step.
    owner: Mapped[str | None] = mapped_column(String(255))
    expected_amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    next_step: Mapped[str | None] = mapped_column(String(500))
    next_step_date: Mapped[date | None]
    first_touch_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_touch_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Rejected: a reason from REJECT_REASONS and the reviewer's words.
    reject_reason: Mapped[str | None] = mapped_column(String(32))
    reject_text: Mapped[str | None] = mapped_column(Text)
    # Back to the CRM.
    exported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    crm_opportunity_id: Mapped[str | None] = mapped_column(String(255), index=True)
    recycled_opportunity_id: Mapped[int | None] = mapped_column(
        ForeignKey("opportunities.id", ondelete="SET NULL"), unique=True
    )

    account: Mapped[Account] = relationship()
    opportunity: Mapped[Opportunity | None] = relationship(foreign_keys=[opportunity_id])
    recycled_opportunity: Mapped[Opportunity | None] = relationship(foreign_keys=[recycled_opportunity_id])
    reviewer: Mapped[User | None] = relationship(foreign_keys=[reviewer_id])
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    evidence: Mapped[list[RequalificationEvidence]] = relationship(
        back_populates="requalification",
        order_by="RequalificationEvidence.id",
        cascade="all, delete-orphan",
    )

    @property
    def winback_id(self) -> str:
        return f"WB-{self.id}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @classmethod
    def guarded_move(
        cls,
        requalification_id: int,
        sources: Iterable[RequalificationStatus],
        target: RequalificationStatus,
        **values,
    ) -> Update:
        """`UPDATE .. SET status = target WHERE id = .. AND status IN sources`: a transition the database
        makes only if the row is still in one of `sources` when it writes it (two managers deciding at
        once, or a manager and the deferral job). The caller reads the rowcount, then applies the
        instance transition (accept, reject, defer, come_back) to the object it holds."""
        sources = tuple(sources)
        for source in sources:
            if target not in TRANSITIONS[source]:
                raise ReviewStateError(f"A {source.value} requalification cannot become {target.value}.")
        return (
            update(cls)
            .where(cls.id == requalification_id, cls.status.in_(sources))
            .values(status=target, **values)
        )

    def _require_open(self, verb: str) -> None:
        if not self.is_open:
            raise ReviewStateError(f"{self.winback_id} is already {self.status.value}: it cannot be {verb}.")

    def accept(self, *, reviewer: User, now: datetime) -> None:
        self._require_open("accepted")
        self.status = RequalificationStatus.ACCEPTED
        self._decided(reviewer, now)

    def reject(self, *, reviewer: User, now: datetime) -> None:
        self._require_open("rejected")
        self.status = RequalificationStatus.REJECTED
        self._decided(reviewer, now)

    def defer(self, until: date, *, reviewer: User, now: datetime) -> None:
        self._require_open("deferred")
        self.status = RequalificationStatus.DEFERRED
        self.deferred_until = until
        self.reviewer_id = reviewer.id
        self.updated_at = now

    def come_back(self, now: datetime) -> None:
        """A deferral ran out: the requalification waits for a decision again."""
        if self.status is RequalificationStatus.DEFERRED:
            self.status = RequalificationStatus.PENDING
            self.updated_at = now

    def _decided(self, reviewer: User, now: datetime) -> None:
        self.reviewer_id = reviewer.id
        self.decided_at = now
        self.updated_at = now

    def __repr__(self) -> str:
        return f"<Requalification {self.id} {self.status} score={self.score}>"


class RequalificationEvidence(db.Model):
    """One signal behind a requalification: a completed survey response or a caller's requalified call."""

    __tablename__ = "requalification_evidence"
    __table_args__ = (
        # Each response or call counts once: `pipeline evaluate` may run again and again.
        Index(
            "uq_requalification_evidence_response",
            "response_id",
            unique=True,
            sqlite_where=db.text("response_id IS NOT NULL"),
            postgresql_where=db.text("response_id IS NOT NULL"),
        ),
        Index(
            "uq_requalification_evidence_call",
            "call_attempt_id",
            unique=True,
            sqlite_where=db.text("call_attempt_id IS NOT NULL"),
            postgresql_where=db.text("call_attempt_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    requalification_id: Mapped[int] = mapped_column(
        ForeignKey("requalifications.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[RequalificationSource] = mapped_column(str_enum(RequalificationSource, 8))
    response_id: Mapped[int | None] = mapped_column(ForeignKey("survey_responses.id", ondelete="SET NULL"))
    call_attempt_id: Mapped[int | None] = mapped_column(ForeignKey("call_attempts.id", ondelete="SET NULL"))
    score: Mapped[int] = mapped_column(default=0)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    # What was said: [{"question": ..., "answer": ...}] for a response, the caller's short form for a call.
    details: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    requalification: Mapped[Requalification] = relationship(back_populates="evidence")


class RequalificationRule(db.Model):
    """A campaign's rule: which completed responses are worth a sales manager's look."""

    __tablename__ = "requalification_rules"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    min_score: Mapped[int] = mapped_column(default=3)
    open_to_talk_points: Mapped[int] = mapped_column(default=3)
    contract_end_months: Mapped[int] = mapped_column(default=6)
    contract_end_points: Mapped[int] = mapped_column(default=2)
    low_satisfaction_max: Mapped[int] = mapped_column(default=2)  # a rating at or below it is "unhappy"
    low_satisfaction_points: Mapped[int] = mapped_column(default=2)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SalesTeam(db.Model):
    """A sales manager's team: the CRM owners and regions they manage."""

    __tablename__ = "sales_teams"

    manager_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    owners: Mapped[list[str]] = mapped_column(JSON, default=list)
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)

    manager: Mapped[User] = relationship()


class PipelineSettings(db.Model):
    """The service levels agreed between sales and marketing, and the CRM webhook (one row)."""

    __tablename__ = "pipeline_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_business_days: Mapped[int] = mapped_column(default=2)
    first_touch_business_days: Mapped[int] = mapped_column(default=3)
    holiday_country: Mapped[str] = mapped_column(String(2), default="US")
    extra_holidays: Mapped[list[str]] = mapped_column(JSON, default=list)  # ISO dates
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    webhook_secret: Mapped[str | None] = mapped_column(String(200))
