"""Campaigns and their enrollments: which lost deals and contacts are worked, and how."""

from __future__ import annotations

import enum
from datetime import datetime, time
from decimal import Decimal
from email.utils import formataddr
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.crm.models import Contact, Opportunity
from app.db_types import UTCDateTime, str_enum, utcnow
from app.errors import DomainError
from app.extensions import db
from app.messaging.channels import Channel
from surveys.models import Invitation, SurveyVersion


class CampaignStateError(DomainError):
    code = "invalid_transition"
    status = 409


class CampaignKind(enum.StrEnum):
    CALL = "call"
    SURVEY = "survey"
    BOTH = "both"  # survey first, then call the ones who did not answer

    @property
    def label(self) -> str:
        return {"call": "Calls", "survey": "Survey", "both": "Survey, then calls"}[self.value]


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    FINISHED = "finished"


# status -> {action: new status}; every other move is refused.
_TRANSITIONS: dict[CampaignStatus, dict[str, CampaignStatus]] = {
    CampaignStatus.DRAFT: {"activate": CampaignStatus.ACTIVE, "finish": CampaignStatus.FINISHED},
    CampaignStatus.ACTIVE: {"pause": CampaignStatus.PAUSED, "finish": CampaignStatus.FINISHED},
    CampaignStatus.PAUSED: {"resume": CampaignStatus.ACTIVE, "finish": CampaignStatus.FINISHED},
    CampaignStatus.FINISHED: {},
}
CAMPAIGN_ACTIONS = ("activate", "pause", "resume", "finish")

# Call outcomes that are retried later, with their default delay in hours.
RETRY_OUTCOMES = {"no_answer": 4, "busy": 1, "voicemail": 24}
WEEKDAYS = (0, 1, 2, 3, 4)

campaign_callers = Table(
    "campaign_callers",
    db.Model.metadata,
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)


class Campaign(db.Model):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[CampaignKind] = mapped_column(str_enum(CampaignKind, 8))
    status: Mapped[CampaignStatus] = mapped_column(str_enum(CampaignStatus, 10), default=CampaignStatus.DRAFT)
    survey_channel: Mapped[Channel] = mapped_column(str_enum(Channel, 8), default=Channel.EMAIL)
    survey_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("survey_versions.id", ondelete="RESTRICT"), index=True
    )

    # Targeting rules over lost opportunities; an empty list means "any".
    lost_within_days: Mapped[int | None]
    wait_days_after_close: Mapped[int] = mapped_column(default=0)
    amount_min: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    amount_max: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    loss_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    segments: Mapped[list[str]] = mapped_column(JSON, default=list)
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)
    competitor_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    owners: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Which contacts of the account: titles containing any keyword, at most K per deal's account.
    title_keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_contacts_per_account: Mapped[int] = mapped_column(default=1)
    cooldown_days: Mapped[int] = mapped_column(default=90)
    # New matches wait (status pending) until an admin approves them: nobody is contacted by surprise.
    requires_approval: Mapped[bool] = mapped_column(default=False, server_default=false())

    # Message templates (merge fields rendered by app.messaging.merge.render_merge).
    # The emails' From (name and address) and Reply-To; the From name signs every message ({{ sender }}).
    # No From address: the app's MAIL_FROM address, still under the From name.
    from_name: Mapped[str | None] = mapped_column(String(120))
    from_email: Mapped[str | None] = mapped_column(String(254))
    reply_to: Mapped[str | None] = mapped_column(String(254))
    email_subject: Mapped[str | None] = mapped_column(String(255))
    email_text: Mapped[str | None] = mapped_column(Text)
    email_html: Mapped[str | None] = mapped_column(Text)
    reminder_subject: Mapped[str | None] = mapped_column(String(255))
    reminder_text: Mapped[str | None] = mapped_column(Text)
    reminder_html: Mapped[str | None] = mapped_column(Text)
    sms_text: Mapped[str | None] = mapped_column(Text)
    reminder_max: Mapped[int] = mapped_column(default=2)
    reminder_min_days: Mapped[int] = mapped_column(default=3)

    # Call rules (the call queue that applies them is a later floor).
    call_max_attempts: Mapped[int] = mapped_column(default=3)
    call_retry_hours: Mapped[dict[str, Any]] = mapped_column(JSON, default=lambda: dict(RETRY_OUTCOMES))
    calling_window_start: Mapped[time] = mapped_column(default=time(9, 0))
    calling_window_end: Mapped[time] = mapped_column(default=time(18, 0))
    # Weekdays calls may be made on, in the contact's local time (Monday is 0): B2B by default.
    calling_days: Mapped[list[int]] = mapped_column(JSON, default=lambda: list(WEEKDAYS))
    call_max_per_day: Mapped[int] = mapped_column(default=2)
    # {disposition: at most this many attempts ending so}, e.g. {"no_answer": 6}.
    call_outcome_caps: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # A personal callback not taken this long after it is due goes to any caller.
    callback_release_minutes: Mapped[int] = mapped_column(default=30)
    # "Survey, then calls": call those who left the survey unanswered this long.
    call_after_survey_days: Mapped[int] = mapped_column(default=7)
    call_recording: Mapped[bool] = mapped_column(default=False)  # only after an announcement, with consent
    # Voicemail drop: a recorded message (an https URL Twilio can fetch) or, without one, this text spoken.
    voicemail_audio_url: Mapped[str | None] = mapped_column(String(500))
    voicemail_text: Mapped[str | None] = mapped_column(Text)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    survey_version: Mapped[SurveyVersion | None] = relationship()
    callers: Mapped[list[User]] = relationship(secondary=campaign_callers, order_by=User.name)

    def from_address(self, default_address: str) -> str:
        """The From header of its emails ("Name <address>"): its own address, else `default_address`."""
        return formataddr((self.from_name or "", self.from_email or default_address))

    @property
    def contact_channel(self) -> Channel:
        """The channel the first contact goes through: suppression is checked for it."""
        return Channel.CALL if self.kind is CampaignKind.CALL else self.survey_channel

    @property
    def channels(self) -> frozenset[Channel]:
        if self.kind is CampaignKind.CALL:
            return frozenset({Channel.CALL})
        if self.kind is CampaignKind.SURVEY:
            return frozenset({self.survey_channel})
        return frozenset({self.survey_channel, Channel.CALL})

    def allowed_actions(self) -> list[str]:
        return [action for action in CAMPAIGN_ACTIONS if action in _TRANSITIONS[self.status]]

    def _move(self, action: str, *, now: datetime) -> None:
        target = _TRANSITIONS[self.status].get(action)
        if target is None:
            raise CampaignStateError(f"A {self.status.value} campaign cannot be {_PAST[action]}.")
        if (
            target is CampaignStatus.ACTIVE
            and self.kind != CampaignKind.CALL
            and self.survey_version_id is None
        ):
            raise CampaignStateError("Choose the survey to send before starting a survey campaign.")
        self.status = target
        if target is CampaignStatus.ACTIVE and self.activated_at is None:
            self.activated_at = now
        if target is CampaignStatus.FINISHED:
            self.finished_at = now

    def activate(self, *, now: datetime) -> None:
        self._move("activate", now=now)

    def pause(self, *, now: datetime) -> None:
        self._move("pause", now=now)

    def resume(self, *, now: datetime) -> None:
        self._move("resume", now=now)

    def finish(self, *, now: datetime) -> None:
        self._move("finish", now=now)

    def __repr__(self) -> str:
        return f"<Campaign {self.id} {self.name} {self.status}>"


_PAST = {"activate": "activated", "pause": "paused", "resume": "resumed", "finish": "finished"}


class EnrollmentStatus(enum.StrEnum):
    PENDING = "pending"  # waits for an admin's approval: no invitation, message or call yet
    ACTIVE = "active"
    COMPLETED = "completed"
    REQUALIFIED = "requalified"
    OPTED_OUT = "opted_out"
    EXHAUSTED = "exhausted"
    SUPPRESSED = "suppressed"
    EXCLUDED = "excluded"  # left out by an admin at approval, with a reason: never contacted by this campaign


class EnrollmentSuppression(enum.StrEnum):
    """Why an enrollment was suppressed: the core reasons, then the campaign's own."""

    ERASED = "erased"
    OPTED_OUT = "opted_out"
    NO_ADDRESS = "no_address"
    DO_NOT_CONTACT = "do_not_contact"
    OPEN_OPPORTUNITY = "open_opportunity"
    COOL_DOWN = "cool_down"

    @property
    def label(self) -> str:
        return SUPPRESSION_LABELS[self]


SUPPRESSION_LABELS = {
    EnrollmentSuppression.ERASED: "Contact erased",
    EnrollmentSuppression.OPTED_OUT: "Opted out of this channel",
    EnrollmentSuppression.NO_ADDRESS: "No email or phone for this channel",
    EnrollmentSuppression.DO_NOT_CONTACT: "On the do-not-contact list",
    EnrollmentSuppression.OPEN_OPPORTUNITY: "Account has an open opportunity",
    EnrollmentSuppression.COOL_DOWN: "Contacted within the cool-down period",
}


class Enrollment(db.Model):
    """One contact of one lost opportunity in one campaign."""

    __tablename__ = "enrollments"
    __table_args__ = (
        UniqueConstraint("campaign_id", "opportunity_id", "contact_id"),
        Index("ix_enrollments_campaign_status", "campaign_id", "status"),
        Index("ix_enrollments_contact_enrolled", "contact_id", "enrolled_at"),
        Index("ix_enrollments_enrolled", "enrolled_at"),  # the funnel of a period
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    opportunity_id: Mapped[int] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    status: Mapped[EnrollmentStatus] = mapped_column(
        str_enum(EnrollmentStatus, 12), default=EnrollmentStatus.ACTIVE
    )
    suppression_reason: Mapped[EnrollmentSuppression | None] = mapped_column(
        str_enum(EnrollmentSuppression, 20)
    )
    exclusion_reason: Mapped[str | None] = mapped_column(String(500))  # why an admin left it out
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The survey invitation this enrollment sent (survey and survey-then-call campaigns).
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("survey_invitations.id", ondelete="SET NULL"), unique=True
    )

    campaign: Mapped[Campaign] = relationship()
    opportunity: Mapped[Opportunity] = relationship()
    contact: Mapped[Contact] = relationship()
    invitation: Mapped[Invitation | None] = relationship()

    def __repr__(self) -> str:
        return f"<Enrollment {self.id} campaign={self.campaign_id} {self.status}>"
