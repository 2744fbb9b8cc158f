"""The call queue: one task per enrollment of a calls campaign, and every attempt made on it."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.crm.models import Contact
from app.db_types import UTCDateTime, str_enum, utcnow
from app.extensions import db
from campaigns.models import Campaign, Enrollment


class TaskStatus(enum.StrEnum):
    READY = "ready"  # waiting in the queue (due now or later, maybe a callback)
    LEASED = "leased"  # a caller holds it until the lease expires
    DONE = "done"  # closed by a final disposition
    EXHAUSTED = "exhausted"  # attempt caps reached
    CANCELLED = "cancelled"  # do not call, opt-out, erased, campaign gone


class Disposition(enum.StrEnum):
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    VOICEMAIL = "voicemail"
    WRONG_NUMBER = "wrong_number"
    CALLBACK = "callback"
    NOT_INTERESTED = "not_interested"
    COMPLETED = "completed"
    DO_NOT_CALL = "do_not_call"
    REQUALIFIED = "requalified"

    @property
    def label(self) -> str:
        return DISPOSITION_LABELS[self]


DISPOSITION_LABELS = {
    Disposition.NO_ANSWER: "No answer",
    Disposition.BUSY: "Busy",
    Disposition.VOICEMAIL: "Voicemail left",
    Disposition.WRONG_NUMBER: "Wrong number",
    Disposition.CALLBACK: "Callback requested",
    Disposition.NOT_INTERESTED: "Not interested",
    Disposition.COMPLETED: "Completed interview",
    Disposition.DO_NOT_CALL: "Do not call",
    Disposition.REQUALIFIED: "Requalified",
}

# The short form a caller fills when a lost deal comes back to life.
REQUALIFICATION_FIELDS = (
    ("what_changed", "What changed"),
    ("budget", "Budget"),
    ("timeline", "Timeline"),
    ("decision_maker", "Decision maker"),
    ("next_step", "Next step"),
)


ZONE_KEY_LENGTH = 2000


class TimeZoneSet(db.Model):
    """A distinct set of candidate time zones ("America/Chicago America/New_York"), shared by tasks.

    The claim evaluates the calling window once per set, not once per task.
    """

    __tablename__ = "call_time_zone_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    # A country's zones (all 29 of the US, for a toll-free number) fit; see ZONE_KEY_LENGTH.
    zones: Mapped[str] = mapped_column(String(ZONE_KEY_LENGTH), unique=True)

    @property
    def names(self) -> list[str]:
        return self.zones.split()


class CallTask(db.Model):
    __tablename__ = "call_tasks"
    __table_args__ = (
        # At most one active lease per contact, whatever the campaign.
        Index(
            "uq_call_tasks_one_lease_per_contact",
            "contact_id",
            unique=True,
            sqlite_where=db.text("status = 'leased'"),
            postgresql_where=db.text("status = 'leased'"),
        ),
        # A caller holds at most one task.
        Index(
            "uq_call_tasks_one_lease_per_caller",
            "leased_by_id",
            unique=True,
            sqlite_where=db.text("status = 'leased'"),
            postgresql_where=db.text("status = 'leased'"),
        ),
        Index("ix_call_tasks_queue", "status", "priority", "due_at"),
        Index("ix_call_tasks_callback_owner", "callback_owner_id", "status"),
        Index("ix_call_tasks_lease", "status", "lease_expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id", ondelete="CASCADE"), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    status: Mapped[TaskStatus] = mapped_column(str_enum(TaskStatus, 10), default=TaskStatus.READY)
    priority: Mapped[int] = mapped_column(default=0)  # higher first
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    zone_set_id: Mapped[int | None] = mapped_column(ForeignKey("call_time_zone_sets.id", ondelete="SET NULL"))
    leased_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    leased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A personal callback goes to its owner first, and to anyone once released.
    callback_owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    callback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    callback_release_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_id: Mapped[int | None] = mapped_column(ForeignKey("survey_responses.id", ondelete="SET NULL"))
    requalification: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    closed_reason: Mapped[str | None] = mapped_column(String(120))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    campaign: Mapped[Campaign] = relationship()
    enrollment: Mapped[Enrollment] = relationship()
    contact: Mapped[Contact] = relationship()
    zone_set: Mapped[TimeZoneSet | None] = relationship()
    leased_by: Mapped[User | None] = relationship(foreign_keys=[leased_by_id])
    callback_owner: Mapped[User | None] = relationship(foreign_keys=[callback_owner_id])
    attempt_list: Mapped[list[CallAttempt]] = relationship(
        back_populates="task", order_by="CallAttempt.started_at", cascade="all, delete-orphan"
    )

    @property
    def is_open(self) -> bool:
        return self.status in (TaskStatus.READY, TaskStatus.LEASED)

    def __repr__(self) -> str:
        return f"<CallTask {self.id} {self.status} contact={self.contact_id}>"


def new_callback_token() -> str:
    """The id Twilio's callbacks for one attempt carry: 128 random bits, never reused."""
    return secrets.token_urlsafe(16)


class CallAttempt(db.Model):
    __tablename__ = "call_attempts"
    __table_args__ = (
        Index("ix_call_attempts_phone_started", "phone", "started_at"),
        Index("uq_call_attempts_callback_token", "callback_token", unique=True),
        Index("ix_call_attempts_caller_started", "caller_id", "started_at"),
        Index("ix_call_attempts_started", "started_at"),  # the callers report of a period
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("call_tasks.id", ondelete="CASCADE"), index=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    caller_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    phone: Mapped[str] = mapped_column(String(20))  # the number dialled: always the contact's
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    twilio_call_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    twilio_status: Mapped[str | None] = mapped_column(String(32))
    duration_seconds: Mapped[int | None]
    recording_consent: Mapped[bool] = mapped_column(default=False)
    disposition: Mapped[Disposition | None] = mapped_column(str_enum(Disposition, 16))
    disposed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notes: Mapped[str | None] = mapped_column(Text)
    callback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_id: Mapped[int | None] = mapped_column(ForeignKey("survey_responses.id", ondelete="SET NULL"))
    requalification: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # In Twilio's callback URLs instead of the row id, which SQLite may hand out again after a
    # rollback: a call placed for an attempt that was never kept can never reach another attempt.
    callback_token: Mapped[str | None] = mapped_column(String(32), default=new_callback_token)
    # Set when the caller's lease lapsed and the task went back to the queue with this attempt open:
    # nobody may record a disposition on it any more (the next caller starts an attempt of their own).
    abandoned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # How the call was placed: "browser" (Twilio Voice SDK), "phone" (Twilio rings the caller), "hand".
    mode: Mapped[str | None] = mapped_column(String(10))
    # The caller was connected (browser call up, own phone answered, or Call pressed to dial by hand):
    # handling time runs from here to the disposition.
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    contact_call_sid: Mapped[str | None] = mapped_column(String(64))  # the leg to the contact
    answered_by: Mapped[str | None] = mapped_column(String(32))  # answering-machine detection's verdict
    suggested_disposition: Mapped[Disposition | None] = mapped_column(str_enum(Disposition, 16))
    announced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the recording notice played
    recording_sid: Mapped[str | None] = mapped_column(String(64))
    recording_url: Mapped[str | None] = mapped_column(String(500))
    recording_seconds: Mapped[int | None]

    task: Mapped[CallTask] = relationship(back_populates="attempt_list")
    caller: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<CallAttempt {self.id} task={self.task_id} {self.disposition}>"


class CallDraft(db.Model):
    """What a caller has typed on a task's screen and not yet submitted: notes, callback, "stop after".

    Saved as they type (and by the no-JS Save), so a reload, a second tab or a crash brings it back;
    deleted once a disposition is recorded.
    """

    __tablename__ = "call_drafts"
    __table_args__ = (UniqueConstraint("task_id", "caller_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("call_tasks.id", ondelete="CASCADE"))
    caller_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    notes: Mapped[str | None] = mapped_column(Text)
    callback_at: Mapped[str | None] = mapped_column(String(32))  # as typed, in callback_zone's time
    callback_zone: Mapped[str] = mapped_column(String(10), default="contact")  # "contact" or "mine"
    callback_for: Mapped[str] = mapped_column(String(10), default="me")  # "me" or "anyone"
    stop_after: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NumberHold(db.Model):
    """A phone number the queue does not dial: held for a while after failing on several days (any
    contact, every campaign), or ended for one contact by a wrong-number disposition (no end date).
    Released by a supervisor (released_at) or by time (held_until)."""

    __tablename__ = "call_number_holds"
    __table_args__ = (Index("ix_call_number_holds_phone", "phone", "held_until"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(120))
    held_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    held_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: for good (wrong number)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    contact: Mapped[Contact | None] = relationship()
    released_by: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<NumberHold {self.phone} until={self.held_until} contact={self.contact_id}>"
