"""OutboundMessage: one email or SMS waiting for, or past, delivery."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.crm.models import Channel
from app.db_types import UTCDateTime, str_enum, utcnow
from app.errors import DomainError
from app.extensions import db


class MessageStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class InvalidTransition(DomainError):
    code = "invalid_transition"
    status = 409


class OutboundMessage(db.Model):
    __tablename__ = "outbound_messages"
    __table_args__ = (Index("ix_outbound_messages_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Unique: the same cause (e.g. "invitation:42:initial") can never queue a second message.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, 8))
    recipient: Mapped[str] = mapped_column(String(254))  # email address or E.164 phone
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    template: Mapped[str | None] = mapped_column(String(64))  # e.g. "invitation", "reminder", "sms"
    subject: Mapped[str | None] = mapped_column(String(255))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    # Extra delivery data: unsubscribe URL, status callback, the cause (invitation id...).
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[MessageStatus] = mapped_column(str_enum(MessageStatus, 12), default=MessageStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    provider_id: Mapped[str | None] = mapped_column(String(120), index=True)
    provider_status: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_reason: Mapped[str | None] = mapped_column(String(120))

    def cancel(self, reason: str) -> None:
        if self.status is not MessageStatus.QUEUED:
            raise InvalidTransition(f"A {self.status.value} message cannot be cancelled")
        self.status = MessageStatus.CANCELLED
        self.cancelled_reason = reason

    def __repr__(self) -> str:
        return f"<OutboundMessage {self.id} {self.channel} {self.status}>"


class DoNotContactKind(enum.StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    DOMAIN = "domain"


class DoNotContactEntry(db.Model):
    """Nobody matching this entry is emailed, texted or called, by any campaign."""

    __tablename__ = "do_not_contact_entries"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[DoNotContactKind] = mapped_column(str_enum(DoNotContactKind, 8))
    value: Mapped[str] = mapped_column(String(254))  # normalised: lower-case email/domain, E.164 phone
    source: Mapped[str] = mapped_column(String(120))  # "admin", "import: file.csv", "sms STOP", ...
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
