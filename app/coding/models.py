"""Codings (an answer tagged with a reason code), keyword rules, trained models, double coding and the
customer-stated reasons of each opportunity."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.codebook.models import ReasonCode
from app.db_types import UTCDateTime, str_enum, utcnow
from app.errors import Conflict
from app.extensions import db


class CoderKind(enum.StrEnum):
    PERSON = "person"
    OPTION = "option"  # the chosen option maps to the code
    RULE = "rule"  # a keyword or phrase rule matched
    MODEL = "model"  # the trained classifier suggested it
    IMPORT = "import"  # coded elsewhere and brought in with `coding import`


class CodingStatus(enum.StrEnum):
    SUGGESTED = "suggested"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class CodingStateError(Conflict):
    code = "coding_state"


class ImportedAnswer(db.Model):
    """A free-text answer coded elsewhere (a win/loss spreadsheet), kept as a training corpus."""

    __tablename__ = "coding_imported_answers"
    __table_args__ = (UniqueConstraint("external_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    external_key: Mapped[str] = mapped_column(String(300))  # the file's id, or question + text digest
    question: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Coding(db.Model):
    """One coder's decision that one answer (survey or imported) speaks of one reason code."""

    __tablename__ = "codings"
    __table_args__ = (
        CheckConstraint("(answer_id IS NULL) <> (imported_answer_id IS NULL)", name="one_answer"),
        Index(
            "uq_codings_answer_code_coder",
            "answer_id",
            "reason_code_id",
            "coder_key",
            unique=True,
            sqlite_where=db.text("answer_id IS NOT NULL"),
            postgresql_where=db.text("answer_id IS NOT NULL"),
        ),
        Index(
            "uq_codings_imported_code_coder",
            "imported_answer_id",
            "reason_code_id",
            "coder_key",
            unique=True,
            sqlite_where=db.text("imported_answer_id IS NOT NULL"),
            postgresql_where=db.text("imported_answer_id IS NOT NULL"),
        ),
        Index("ix_codings_code_status", "reason_code_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    answer_id: Mapped[int | None] = mapped_column(ForeignKey("survey_answers.id", ondelete="CASCADE"))
    imported_answer_id: Mapped[int | None] = mapped_column(
        ForeignKey("coding_imported_answers.id", ondelete="CASCADE")
    )
    reason_code_id: Mapped[int] = mapped_column(ForeignKey("reason_codes.id", ondelete="RESTRICT"))
    source: Mapped[CoderKind] = mapped_column(str_enum(CoderKind, 8))
    coder_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    coder_name: Mapped[str | None] = mapped_column(String(200))  # an imported coder who is not a user
    # Who decided, as one comparable key: "user:7", "option", "rule", "model", "import:Jane".
    coder_key: Mapped[str] = mapped_column(String(220))
    confidence: Mapped[float | None] = mapped_column(Float)
    status: Mapped[CodingStatus] = mapped_column(str_enum(CodingStatus, 12), default=CodingStatus.SUGGESTED)
    span_start: Mapped[int | None]
    span_end: Mapped[int | None]
    memo: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    reason_code: Mapped[ReasonCode] = relationship()
    imported_answer: Mapped[ImportedAnswer | None] = relationship()

    def confirm(self, now: datetime) -> None:
        if self.status is CodingStatus.CONFIRMED:
            return
        self.status = CodingStatus.CONFIRMED
        self.decided_at = now

    def reject(self, now: datetime) -> None:
        if self.status is CodingStatus.CONFIRMED and self.source is not CoderKind.PERSON:
            raise CodingStateError("A confirmed automatic coding is removed, not rejected.")
        self.status = CodingStatus.REJECTED
        self.decided_at = now

    def __repr__(self) -> str:
        return f"<Coding {self.id} {self.coder_key} {self.status}>"


class CodingRule(db.Model):
    """A keyword or phrase that suggests a code when an answer contains it (case-insensitive, whole words)."""

    __tablename__ = "coding_rules"
    __table_args__ = (UniqueConstraint("reason_code_id", "phrase"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reason_code_id: Mapped[int] = mapped_column(ForeignKey("reason_codes.id", ondelete="CASCADE"))
    phrase: Mapped[str] = mapped_column(String(200))  # stored folded
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    reason_code: Mapped[ReasonCode] = relationship()


class CodeSetting(db.Model):
    """Per code: the precision last measured by `coding evaluate`/`train`, and auto-accept."""

    __tablename__ = "coding_code_settings"

    reason_code_id: Mapped[int] = mapped_column(
        ForeignKey("reason_codes.id", ondelete="CASCADE"), primary_key=True
    )
    measured_precision: Mapped[float | None] = mapped_column(Float)
    measured_support: Mapped[int | None]
    measured_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    auto_accept_threshold: Mapped[float | None] = mapped_column(Float)  # None: never auto-accept
    # Abstention (app/coding/abstention.py): the model suggests this code only at or above
    # suggest_threshold; never_suggested when its held-out precision never reached the target.
    suggest_threshold: Mapped[float | None] = mapped_column(Float)
    never_suggested: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    threshold_precision: Mapped[float | None] = mapped_column(Float)
    threshold_recall: Mapped[float | None] = mapped_column(Float)
    abstention_rate: Mapped[float | None] = mapped_column(Float)
    precision_curve: Mapped[list | None] = mapped_column(JSON)

    reason_code: Mapped[ReasonCode] = relationship()


class TrainedModel(db.Model):
    """A classifier trained on the confirmed codings; the newest one suggests."""

    __tablename__ = "coding_trained_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmations: Mapped[int]  # confirmed codings at training time (retrain after N more)
    examples: Mapped[int]
    codes: Mapped[int]
    # Written only by the trainer, never uploaded; megabytes, so loaded only when asked for by name.
    payload: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)


class DoubleCodingAssignment(db.Model):
    """An answer drawn into the double-coding sample: two analysts code it without seeing each other."""

    __tablename__ = "coding_assignments"
    __table_args__ = (UniqueConstraint("answer_id", "coder_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("survey_answers.id", ondelete="CASCADE"), index=True)
    coder_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class OpportunityReason(db.Model):
    """A customer-stated reason of an opportunity: its responses' confirmed codes, counted once each."""

    __tablename__ = "opportunity_reasons"
    __table_args__ = (
        UniqueConstraint("opportunity_id", "reason_code_id"),
        Index(
            "uq_opportunity_reasons_one_primary",
            "opportunity_id",
            unique=True,
            sqlite_where=db.text("is_primary"),
            postgresql_where=db.text("is_primary"),
        ),
        # The deals behind one reason (the loss-reasons drill-down).
        Index("ix_opportunity_reasons_code_opportunity", "reason_code_id", "opportunity_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id", ondelete="CASCADE"))
    reason_code_id: Mapped[int] = mapped_column(ForeignKey("reason_codes.id", ondelete="CASCADE"))
    mentions: Mapped[int] = mapped_column(default=1)  # answers that carry it
    is_primary: Mapped[bool] = mapped_column(default=False)
    # Of the deal's reasons in one theme (app.codebook.themes), exactly one is marked: counting the marked
    # rows per theme counts each deal once per theme. Kept by app/coding/theme_marks.py.
    first_in_theme: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    reason_code: Mapped[ReasonCode] = relationship()


class AnswerMark(enum.StrEnum):
    SKIPPED = "skipped"  # this coder put it off: it comes back after the answers not skipped
    NOT_CODABLE = "not_codable"  # no reason in it: it leaves the queue, and reports count it


class CodingAnswerMark(db.Model):
    """A coder's Skip or Not codable on one answer in the workbench."""

    __tablename__ = "coding_answer_marks"
    __table_args__ = (
        UniqueConstraint("answer_id", "coder_id", "mark"),
        Index("ix_coding_answer_marks_mark_answer", "mark", "answer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("survey_answers.id", ondelete="CASCADE"))
    coder_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    mark: Mapped[AnswerMark] = mapped_column(str_enum(AnswerMark, 12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
