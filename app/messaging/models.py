"""OutboundMessage: one email or SMS waiting for, or past, delivery.

Every change of a message's status goes through TRANSITIONS: one message at a time by its transition
methods (cancel, mark_sent, mark_failed, mark_undelivered, resend), many at once in SQL by
`OutboundMessage.bulk_transition` (the outbox's fast path: claim, ledger, reconciliation, cancellation),
which refuses a move the table does not allow. tests/messaging/test_transitions.py checks that no other
code writes the status column.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, Update, update
from sqlalchemy.orm import Mapped, mapped_column

from app.db_types import UTCDateTime, str_enum, utcnow
from app.errors import DomainError
from app.extensions import db
from app.messaging.channels import Channel


class MessageStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
    # The worker died mid-send and the provider cannot tell us whether it accepted the email:
    # a person decides, rather than risk a second delivery (see reconcile_stale_messages).
    UNKNOWN = "unknown"


class InvalidTransition(DomainError):
    code = "invalid_transition"
    status = 409


# Where a message may go from each status.
TRANSITIONS: dict[MessageStatus, frozenset[MessageStatus]] = {
    # claimed by a worker; cancelled (opt-out, unsubscribe)
    MessageStatus.QUEUED: frozenset({MessageStatus.SENDING, MessageStatus.CANCELLED}),
    # accepted; failed or queued for a retry; found suppressed; given back untried; outcome unknown
    MessageStatus.SENDING: frozenset(
        {
            MessageStatus.SENT,
            MessageStatus.FAILED,
            MessageStatus.QUEUED,
            MessageStatus.CANCELLED,
            MessageStatus.UNKNOWN,
        }
    ),
    MessageStatus.SENT: frozenset({MessageStatus.FAILED}),  # the carrier reports it undelivered
    MessageStatus.FAILED: frozenset({MessageStatus.QUEUED}),  # a person resends it
    MessageStatus.UNKNOWN: frozenset({MessageStatus.QUEUED}),  # a person resends it
    MessageStatus.CANCELLED: frozenset(),
}


def check_transition(source: MessageStatus, target: MessageStatus) -> None:
    if target not in TRANSITIONS[source]:
        raise InvalidTransition(f"A {source.value} message cannot become {target.value}")


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
    # Set (and committed) just before the provider is called: recovery tells a row that was never
    # tried (queued again) from the one that was in flight when the worker died (maybe sent).
    send_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # PostgreSQL: the database server's start time when the row was claimed. The attempt markers are
    # committed without waiting for the disk, so a server crash may lose them; a row claimed before
    # the server last started is then treated as maybe sent, never as never tried
    # (see ledger.ledger_connection).
    claim_server_epoch: Mapped[datetime | None] = mapped_column(UTCDateTime)
    provider_id: Mapped[str | None] = mapped_column(String(120), index=True)
    provider_status: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_reason: Mapped[str | None] = mapped_column(String(120))

    @classmethod
    def bulk_transition(cls, source: MessageStatus, target: MessageStatus, **values: Any) -> Update:
        """`UPDATE outbound_messages SET status = target, **values WHERE status = source`: the one way to
        move many messages in SQL. The caller adds its own conditions (ids, `claimed_by = me`) and runs it;
        `values` may hold SQL expressions. Refuses a move TRANSITIONS does not allow."""
        check_transition(source, target)
        if values.pop("status", target) is not target:
            raise InvalidTransition(f"bulk_transition to {target.value} was given another status")
        return update(cls).where(cls.status == source).values(status=target, **values)

    def _move(self, target: MessageStatus) -> None:
        check_transition(self.status, target)
        self.status = target

    def claim(self, worker_id: str, *, now: datetime) -> None:
        """Take a queued message for one attempt (one row; a worker claims in bulk: claim_due_messages)."""
        self._move(MessageStatus.SENDING)
        self.claimed_by = worker_id
        self.claimed_at = now
        self.attempts = (self.attempts or 0) + 1

    def cancel(self, reason: str) -> None:
        """Cancel a queued message, or one a worker claimed and found suppressed before sending."""
        if self.status not in (MessageStatus.QUEUED, MessageStatus.SENDING):
            raise InvalidTransition(f"A {self.status.value} message cannot be cancelled")
        self._move(MessageStatus.CANCELLED)
        self.cancelled_reason = reason
        self.claimed_by = None

    @staticmethod
    def sent_values(*, now: Any, provider_status: Any) -> dict[str, Any]:
        """The columns a sent message gets: mark_sent sets them, the delivery ledger writes them in bulk.

        `now` and `provider_status` may be values or SQL expressions (the ledger's bound parameters).
        """
        return {
            "status": MessageStatus.SENT,
            "sent_at": now,
            "provider_status": provider_status,
            "error": None,
            "error_code": None,
        }

    def mark_sent(self, provider_id: str | None, *, now: datetime, provider_status: str = "accepted") -> None:
        if self.status is not MessageStatus.SENDING:
            raise InvalidTransition(f"A {self.status.value} message cannot be marked sent")
        check_transition(self.status, MessageStatus.SENT)
        for name, value in self.sent_values(now=now, provider_status=provider_status).items():
            setattr(self, name, value)
        self.provider_id = provider_id or self.provider_id

    def resend(self, *, now: datetime) -> None:
        """A person decided an `unknown` or `failed` message should go out (again)."""
        if self.status not in (MessageStatus.UNKNOWN, MessageStatus.FAILED):
            raise InvalidTransition(f"A {self.status.value} message cannot be resent")
        self._move(MessageStatus.QUEUED)
        self.next_attempt_at = now
        self.error = None
        self.error_code = None

    def mark_failed(
        self, error: str, *, code: str | None, permanent: bool, retry_at: datetime | None
    ) -> None:
        """Record a failed attempt: retry at retry_at, or stop for good when permanent or out of tries."""
        if self.status is not MessageStatus.SENDING:
            raise InvalidTransition(f"A {self.status.value} message cannot fail")
        self.error = error[:2000]
        self.error_code = code
        self.claimed_by = None
        self.claimed_at = None
        self.send_started_at = None
        if permanent or retry_at is None:
            self._move(MessageStatus.FAILED)
        else:
            self._move(MessageStatus.QUEUED)
            self.next_attempt_at = retry_at

    def mark_undelivered(self, error: str, *, code: str) -> None:
        """The carrier reports that a message it accepted was not delivered (Twilio's status callback)."""
        if self.status is not MessageStatus.SENT:
            raise InvalidTransition(f"A {self.status.value} message cannot be reported undelivered")
        self._move(MessageStatus.FAILED)
        self.error = error[:2000]
        self.error_code = code

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


class ReplyIntent(enum.StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    UNCLEAR = "unclear"


class InboundMessage(db.Model):
    """A reply that came in (SMS through Twilio); unclear ones wait for a person."""

    __tablename__ = "inbound_messages"
    __table_args__ = (Index("ix_inbound_messages_review", "needs_review", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, 8))
    # Twilio's MessageSid: a replayed webhook finds the row it already stored and changes nothing.
    provider_id: Mapped[str] = mapped_column(String(120), unique=True)
    sender: Mapped[str] = mapped_column(String(254))
    recipient: Mapped[str | None] = mapped_column(String(254))
    body: Mapped[str] = mapped_column(Text)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    intent: Mapped[ReplyIntent] = mapped_column(str_enum(ReplyIntent, 12))
    action_taken: Mapped[str | None] = mapped_column(String(200))
    needs_review: Mapped[bool] = mapped_column(default=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    def __repr__(self) -> str:
        return f"<InboundMessage {self.id} {self.sender} {self.intent}>"
