"""The CRM side of the domain: accounts, contacts, opportunities, competitors (and their aliases), and the
mapping of the CRM's loss reasons to reason codes."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.codebook.models import ReasonCode
from app.db_types import UTCDateTime, str_enum, utcnow
from app.extensions import db

if TYPE_CHECKING:
    from app.messaging.channels import Channel


def deal_state(is_closed: bool, is_won: bool) -> str:
    """A deal's state in Python: "open", "won" or "lost" (app.crm.deals writes the same rules in SQL)."""
    if not is_closed:
        return "open"
    return "won" if is_won else "lost"


class Origin(enum.StrEnum):
    CRM = "crm"
    RECYCLED = "recycled"


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Account(TimestampMixin, db.Model):
    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("crm_source", "crm_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    crm_source: Mapped[str] = mapped_column(String(32))
    crm_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), index=True)
    domain: Mapped[str | None] = mapped_column(String(255))
    industry: Mapped[str | None] = mapped_column(String(120))
    segment: Mapped[str | None] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(64))
    country: Mapped[str | None] = mapped_column(String(2))
    employees: Mapped[int | None]

    contacts: Mapped[list[Contact]] = relationship(back_populates="account")
    opportunities: Mapped[list[Opportunity]] = relationship(
        back_populates="account", foreign_keys="Opportunity.account_id"
    )

    def __repr__(self) -> str:
        return f"<Account {self.crm_source}:{self.crm_id} {self.name}>"


class Contact(TimestampMixin, db.Model):
    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("account_id", "crm_id"),
        UniqueConstraint("account_id", "email"),
        Index("ix_contacts_email", "email"),
        Index("ix_contacts_phone", "phone"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    crm_id: Mapped[str | None] = mapped_column(String(255))
    first_name: Mapped[str | None] = mapped_column(String(120))
    last_name: Mapped[str | None] = mapped_column(String(120))
    title: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164
    timezone: Mapped[str | None] = mapped_column(String(64))  # IANA name
    # The address, as far as calling hours need it: a state or province (code or name) and a country.
    state: Mapped[str | None] = mapped_column(String(64))
    country: Mapped[str | None] = mapped_column(String(2))  # ISO 3166 alpha-2
    # The language to write to them in ("de"), from the CRM or set by staff; None: by country, else the
    # organisation's (app.i18n.languages.resolve_language).
    language: Mapped[str | None] = mapped_column(String(8))
    # Opt-outs per channel: when, and where it came from (link, SMS reply, caller, import...).
    email_opt_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    email_opt_out_source: Mapped[str | None] = mapped_column(String(64))
    sms_opt_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sms_opt_out_source: Mapped[str | None] = mapped_column(String(64))
    call_opt_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # do not call
    call_opt_out_source: Mapped[str | None] = mapped_column(String(64))
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    account: Mapped[Account] = relationship(back_populates="contacts")

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part) or "(no name)"

    @property
    def do_not_call(self) -> bool:
        return self.call_opt_out_at is not None

    def opted_out(self, channel: Channel) -> bool:
        return getattr(self, f"{channel.value}_opt_out_at") is not None

    def __repr__(self) -> str:
        return f"<Contact {self.id} {self.full_name}>"


class Competitor(TimestampMixin, db.Model):
    __tablename__ = "competitors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    website: Mapped[str | None] = mapped_column(String(255))

    def __repr__(self) -> str:
        return f"<Competitor {self.name}>"


class Opportunity(TimestampMixin, db.Model):
    __tablename__ = "opportunities"
    __table_args__ = (
        UniqueConstraint("crm_source", "crm_id"),
        Index("ix_opportunities_lost", "is_closed", "is_won", "close_date"),
        # A sales owner's deals (report filters), and the owners one probe each (app.reports.filters).
        Index("ix_opportunities_owner_close", "owner", "close_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    crm_source: Mapped[str] = mapped_column(String(32))
    crm_id: Mapped[str] = mapped_column(String(255))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    primary_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(255))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    stage: Mapped[str] = mapped_column(String(120))
    is_closed: Mapped[bool] = mapped_column(default=False)
    is_won: Mapped[bool] = mapped_column(default=False)
    close_date: Mapped[date | None]
    owner: Mapped[str | None] = mapped_column(String(255))
    crm_loss_reason: Mapped[str | None] = mapped_column(String(255))  # as the CRM said it
    competitor_raw: Mapped[str | None] = mapped_column(String(255))
    competitor_id: Mapped[int | None] = mapped_column(
        ForeignKey("competitors.id", ondelete="SET NULL"), index=True
    )
    product: Mapped[str | None] = mapped_column(String(255))
    notes: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the source row, as imported
    # Digest of the imported values: a re-import skips rows whose digest did not change.
    import_hash: Mapped[str | None] = mapped_column(String(32))
    origin: Mapped[Origin] = mapped_column(str_enum(Origin, 16), default=Origin.CRM)
    recycled_from_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id", ondelete="SET NULL"))

    account: Mapped[Account] = relationship(back_populates="opportunities", foreign_keys=[account_id])
    primary_contact: Mapped[Contact | None] = relationship()
    competitor: Mapped[Competitor | None] = relationship()
    recycled_from: Mapped[Opportunity | None] = relationship(remote_side=[id])

    @property
    def is_lost(self) -> bool:
        return self.status == "lost"

    @property
    def status(self) -> str:
        return deal_state(self.is_closed, self.is_won)

    def __repr__(self) -> str:
        return f"<Opportunity {self.crm_source}:{self.crm_id} {self.stage}>"


class CompetitorAlias(db.Model):
    """Another spelling of a competitor's name, as sales reps type it into the CRM."""

    __tablename__ = "competitor_aliases"

    id: Mapped[int] = mapped_column(primary_key=True)
    alias: Mapped[str] = mapped_column(String(255), unique=True)  # stored folded (lower case, trimmed)
    competitor_id: Mapped[int] = mapped_column(ForeignKey("competitors.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    competitor = relationship("Competitor")


class CompetitorMergeSuggestion(db.Model):
    """A new competitor whose name is close to an existing one's: a person decides whether they are one.

    Fuzzy scores cannot tell a typo ("Nortwind") from another product ("Oracle NetSuite" next to
    "Oracle"), so an import never merges on a score: it creates the competitor and suggests the merge.
    """

    __tablename__ = "competitor_merge_suggestions"
    __table_args__ = (UniqueConstraint("competitor_id", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    competitor_id: Mapped[int] = mapped_column(ForeignKey("competitors.id", ondelete="CASCADE"))
    target_id: Mapped[int] = mapped_column(ForeignKey("competitors.id", ondelete="CASCADE"), index=True)
    score: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    competitor = relationship("Competitor", foreign_keys=[competitor_id])
    target = relationship("Competitor", foreign_keys=[target_id])


class LossReasonMapping(db.Model):
    """A raw CRM loss reason and the reason code it means (unmapped until an admin says)."""

    __tablename__ = "loss_reason_mappings"

    id: Mapped[int] = mapped_column(primary_key=True)
    raw_value: Mapped[str] = mapped_column(String(255), unique=True)
    reason_code_id: Mapped[int | None] = mapped_column(
        ForeignKey("reason_codes.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    reason_code = relationship(ReasonCode)
