"""What the live CRM sync keeps between runs: each connection's high-water mark and health, and the
deals waiting to be pushed to the CRM."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db_types import UTCDateTime, str_enum, utcnow
from app.extensions import db


class ConnectionStatus(enum.StrEnum):
    OK = "ok"
    FAILED = "failed"  # the CRM refused the credentials even after a refresh: an admin must act


class CrmConnection(db.Model):
    """One CRM the sync talks to (salesforce, hubspot): where its last pull stopped, and whether it works."""

    __tablename__ = "crm_connections"

    id: Mapped[int] = mapped_column(primary_key=True)
    crm_source: Mapped[str] = mapped_column(String(32), unique=True)
    # The CRM's own modification time of the newest record pulled (SystemModstamp, hs_lastmodifieddate):
    # the next pull asks for what changed after it.
    high_water_mark: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[ConnectionStatus] = mapped_column(
        str_enum(ConnectionStatus, 16), default=ConnectionStatus.OK
    )
    message: Mapped[str | None] = mapped_column(Text)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def mark_failed(self, message: str, *, now: datetime) -> None:
        self.status = ConnectionStatus.FAILED
        self.message = message
        self.failed_at = now

    def mark_ok(self, *, now: datetime) -> None:
        self.status = ConnectionStatus.OK
        self.message = None
        self.last_success_at = now


class CrmPush(db.Model):
    """An accepted requalification's deal, waiting for (or done with) its upsert into the CRM.

    Keyed by the Winback ID, which is also the CRM's external id: pushing again updates the same deal.
    A failed push keeps its row (status queued, with the error) and is tried again on the next run.
    """

    __tablename__ = "crm_pushes"

    id: Mapped[int] = mapped_column(primary_key=True)
    winback_id: Mapped[str] = mapped_column(String(32), unique=True)
    # name, account_crm_id, account_name, amount, currency, close_date, owner, next_step, original_crm_id
    deal: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    pushed: Mapped[bool] = mapped_column(default=False, index=True)
    crm_source: Mapped[str | None] = mapped_column(String(32))  # the CRM it went to
    crm_id: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    pushed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CrmCredential(db.Model):
    """The login an admin gave on the CRM connection page: plain settings, and the secrets encrypted with
    CRM_SECRETS_KEY (Fernet). The environment's settings, when present, take precedence over these."""

    __tablename__ = "crm_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    crm_source: Mapped[str] = mapped_column(String(32), unique=True)
    method: Mapped[str] = mapped_column(String(16))  # salesforce: jwt or password; hubspot: token
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # never a secret
    secrets: Mapped[str | None] = mapped_column(Text)  # a Fernet token of a JSON object
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(255))
