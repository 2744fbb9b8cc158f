"""Surveys and their frozen versions, questions and options, invitations, responses and answers."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.crm.models import Contact, Opportunity
from app.db_types import UTCDateTime, str_enum, utcnow
from app.errors import Conflict
from app.extensions import db
from app.messaging.channels import Channel


class QuestionKind(enum.StrEnum):
    SINGLE = "single_choice"
    MULTIPLE = "multiple_choice"
    RATING = "rating"
    NPS = "nps"
    YES_NO = "yes_no"
    SHORT_TEXT = "short_text"
    LONG_TEXT = "long_text"
    DATE = "date"

    @property
    def label(self) -> str:
        return {
            "single_choice": "Single choice",
            "multiple_choice": "Multiple choice",
            "rating": "Rating 1–5",
            "nps": "NPS 0–10",
            "yes_no": "Yes / no",
            "short_text": "Short text",
            "long_text": "Long text",
            "date": "Date",
        }[self.value]

    @property
    def has_options(self) -> bool:
        return self in (QuestionKind.SINGLE, QuestionKind.MULTIPLE)


class Signal(enum.StrEnum):
    """Questions whose answers hint that a lost deal could come back."""

    OPEN_TO_TALK = "open_to_talk"
    CONTRACT_END = "contract_end"
    VENDOR_SATISFACTION = "vendor_satisfaction"

    @property
    def label(self) -> str:
        return {
            "open_to_talk": "Open to a conversation",
            "contract_end": "Contract end date",
            "vendor_satisfaction": "Satisfaction with the chosen vendor",
        }[self.value]


class VersionStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    RETIRED = "retired"


class ResponseChannel(enum.StrEnum):
    WEB = "web"
    PHONE = "phone"


class ResponseStatus(enum.StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETE = "complete"
    CLOSED = "closed"  # left incomplete past the deadline; still counts as partial data


class VersionFrozen(Conflict):
    code = "version_frozen"


class Survey(db.Model):
    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    template_key: Mapped[str | None] = mapped_column(String(64))  # e.g. "win_loss" when made from one
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    versions: Mapped[list[SurveyVersion]] = relationship(
        back_populates="survey", order_by="SurveyVersion.number", cascade="all, delete-orphan"
    )

    @property
    def published(self) -> SurveyVersion | None:
        return next((v for v in self.versions if v.status is VersionStatus.PUBLISHED), None)

    @property
    def draft(self) -> SurveyVersion | None:
        return next((v for v in self.versions if v.status is VersionStatus.DRAFT), None)

    def __repr__(self) -> str:
        return f"<Survey {self.id} {self.name}>"


class SurveyVersion(db.Model):
    __tablename__ = "survey_versions"
    __table_args__ = (
        UniqueConstraint("survey_id", "number"),
        # At most one draft and one published version per survey.
        Index(
            "uq_survey_versions_one_live",
            "survey_id",
            "status",
            unique=True,
            sqlite_where=db.text("status != 'retired'"),
            postgresql_where=db.text("status != 'retired'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    status: Mapped[VersionStatus] = mapped_column(str_enum(VersionStatus, 12), default=VersionStatus.DRAFT)
    title: Mapped[str] = mapped_column(String(200))
    introduction: Mapped[str] = mapped_column(Text, default="")
    thank_you: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    survey: Mapped[Survey] = relationship(back_populates="versions")
    questions: Mapped[list[Question]] = relationship(
        back_populates="version", order_by="Question.position", cascade="all, delete-orphan"
    )
    translations: Mapped[list[SurveyTranslation]] = relationship(
        back_populates="version", order_by="SurveyTranslation.language", cascade="all, delete-orphan"
    )

    @property
    def is_frozen(self) -> bool:
        return self.status is not VersionStatus.DRAFT

    def publish(self, now: datetime) -> None:
        if self.status is not VersionStatus.DRAFT:
            raise VersionFrozen("Only a draft can be published.")
        self.status = VersionStatus.PUBLISHED
        self.published_at = now

    def retire(self) -> None:
        if self.status is not VersionStatus.PUBLISHED:
            raise VersionFrozen("Only the published version can be retired.")
        self.status = VersionStatus.RETIRED

    def pages(self) -> list[list[Question]]:
        """Questions grouped by page number, in order."""
        grouped: dict[int, list[Question]] = {}
        for question in self.questions:
            grouped.setdefault(question.page, []).append(question)
        return [grouped[number] for number in sorted(grouped)]

    def __repr__(self) -> str:
        return f"<SurveyVersion {self.survey_id} v{self.number} {self.status}>"


class SurveyTranslation(db.Model):
    """A version's texts in one more language, by key (surveys.translations.source_texts names the keys).

    Edited with the draft and frozen with it: a published version's translations never change.
    """

    __tablename__ = "survey_translations"
    __table_args__ = (UniqueConstraint("version_id", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("survey_versions.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(8))
    texts: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    version: Mapped[SurveyVersion] = relationship(back_populates="translations")

    def __repr__(self) -> str:
        return f"<SurveyTranslation v{self.version_id} {self.language}>"


class Question(db.Model):
    __tablename__ = "survey_questions"
    __table_args__ = (UniqueConstraint("version_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("survey_versions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    page: Mapped[int] = mapped_column(default=1)  # one page per section
    kind: Mapped[QuestionKind] = mapped_column(str_enum(QuestionKind, 20))
    text: Mapped[str] = mapped_column(Text)
    help_text: Mapped[str | None] = mapped_column(Text)
    required: Mapped[bool] = mapped_column(default=False)
    allow_other: Mapped[bool] = mapped_column(default=False)  # multiple choice: "Other, please specify"
    signal: Mapped[Signal | None] = mapped_column(str_enum(Signal, 24))
    # Its answers are reasons to code (they enter the coding queue); off for vendor names, dates and
    # contact details.
    coded: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Its answer names the vendor chosen instead: matched to the competitor list, never coded.
    feeds_competitor: Mapped[bool] = mapped_column(default=False, server_default=false())
    # "Show only if" an earlier question's answer matches (an option value, "yes"/"no" or a number).
    show_if_question_id: Mapped[int | None] = mapped_column(
        ForeignKey("survey_questions.id", ondelete="SET NULL")
    )
    show_if_value: Mapped[str | None] = mapped_column(String(120))

    version: Mapped[SurveyVersion] = relationship(back_populates="questions")
    options: Mapped[list[Option]] = relationship(
        back_populates="question", order_by="Option.position", cascade="all, delete-orphan"
    )
    show_if_question: Mapped[Question | None] = relationship(remote_side=[id])

    @property
    def html_id(self) -> str:
        return f"q{self.id}"

    def option_by_value(self, value: str) -> Option | None:
        return next((option for option in self.options if option.value == value), None)

    def __repr__(self) -> str:
        return f"<Question {self.id} {self.kind}>"


class Option(db.Model):
    __tablename__ = "survey_options"
    __table_args__ = (UniqueConstraint("question_id", "value"), UniqueConstraint("question_id", "position"))

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("survey_questions.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    value: Mapped[str] = mapped_column(String(120))  # stable slug, kept across versions
    label: Mapped[str] = mapped_column(String(300))
    reason_code_id: Mapped[int | None] = mapped_column(ForeignKey("reason_codes.id", ondelete="SET NULL"))
    requalification_weight: Mapped[int] = mapped_column(default=0)

    question: Mapped[Question] = relationship(back_populates="options")
    reason_code = relationship("ReasonCode")

    def __repr__(self) -> str:
        return f"<Option {self.value}>"


class Invitation(db.Model):
    """One contact's personal link to one survey version; the raw token is derived, never stored."""

    __tablename__ = "survey_invitations"
    __table_args__ = (
        Index("ix_survey_invitations_due", "completed_at", "expires_at"),
        # The invitations sent in a period (the targets' response rate on the dashboard).
        Index("ix_survey_invitations_sent", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("survey_versions.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    opportunity_id: Mapped[int | None] = mapped_column(
        ForeignKey("opportunities.id", ondelete="SET NULL"), index=True
    )
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, 8))
    nonce: Mapped[str] = mapped_column(String(32))  # 128 random bits, hex; the token is its HMAC
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the token, hex
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminder_max: Mapped[int] = mapped_column(default=2)
    reminder_min_days: Mapped[int] = mapped_column(default=3)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminders_sent: Mapped[int] = mapped_column(default=0)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    version: Mapped[SurveyVersion] = relationship()
    contact: Mapped[Contact] = relationship()
    opportunity: Mapped[Opportunity | None] = relationship()

    def is_open(self, now: datetime) -> bool:
        return self.completed_at is None and (self.expires_at is None or self.expires_at > now)

    def __repr__(self) -> str:
        return f"<Invitation {self.id} v{self.version_id} contact {self.contact_id}>"


class Response(db.Model):
    __tablename__ = "survey_responses"
    __table_args__ = (
        # One response per invitation and version: a double submit can never make two.
        UniqueConstraint("invitation_id", "version_id"),
        CheckConstraint("current_page >= 1", name="current_page_positive"),
        # What the customers of some deals said (the loss-reasons drill-down, an opportunity's reasons).
        Index("ix_survey_responses_opportunity", "opportunity_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("survey_versions.id", ondelete="CASCADE"), index=True)
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("survey_invitations.id", ondelete="SET NULL")
    )
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id", ondelete="SET NULL"))
    caller_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    channel: Mapped[ResponseChannel] = mapped_column(str_enum(ResponseChannel, 8))
    status: Mapped[ResponseStatus] = mapped_column(
        str_enum(ResponseStatus, 12), default=ResponseStatus.IN_PROGRESS, index=True
    )
    current_page: Mapped[int] = mapped_column(default=1)
    furthest_page: Mapped[int] = mapped_column(default=1)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    version: Mapped[SurveyVersion] = relationship()
    invitation: Mapped[Invitation | None] = relationship()
    contact: Mapped[Contact | None] = relationship()
    opportunity: Mapped[Opportunity | None] = relationship()
    answers: Mapped[list[Answer]] = relationship(back_populates="response", cascade="all, delete-orphan")

    def answers_by_question(self) -> dict[int, Answer]:
        return {answer.question_id: answer for answer in self.answers}

    def __repr__(self) -> str:
        return f"<Response {self.id} {self.status}>"


class Answer(db.Model):
    __tablename__ = "survey_answers"
    __table_args__ = (UniqueConstraint("response_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("survey_responses.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(
        ForeignKey("survey_questions.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str | None] = mapped_column(Text)  # free text, or "other, please specify"
    number: Mapped[int | None]  # rating, NPS
    date_value: Mapped[date | None]
    choices: Mapped[list[Any]] = mapped_column(JSON, default=list)  # option values chosen (or "yes"/"no")
    # The competitor a vendor-name answer was matched to (see Question.feeds_competitor).
    competitor_id: Mapped[int | None] = mapped_column(
        ForeignKey("competitors.id", ondelete="SET NULL"), index=True
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    response: Mapped[Response] = relationship(back_populates="answers")
    question: Mapped[Question] = relationship()

    def __repr__(self) -> str:
        return f"<Answer r{self.response_id} q{self.question_id}>"
