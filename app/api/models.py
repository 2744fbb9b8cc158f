"""ApiToken: one bearer token per integration, only its hash stored, revocable."""

from __future__ import annotations

import enum
import hashlib
import json
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db_types import UTCDateTime, utcnow
from app.extensions import db


class Scope(enum.StrEnum):
    """What a token may do: an integration gets only what it needs."""

    PUSH = "opportunities:push"
    REQUALIFICATIONS = "requalifications:update"
    READ = "read"

    @property
    def label(self) -> str:
        return {
            "opportunities:push": "Push opportunities",
            "requalifications:update": "Update requalifications",
            "read": "Read",
        }[self.value]


ALL_SCOPES = [scope.value for scope in Scope]
# Tokens made before scopes existed could do everything: they keep it (migration 0026 and this default).
ALL_SCOPES_SQL = json.dumps(ALL_SCOPES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(db.Model):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))  # first characters, to recognise it in lists
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scopes: Mapped[list[str]] = mapped_column(
        JSON, default=lambda: list(ALL_SCOPES), server_default=ALL_SCOPES_SQL
    )

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: str) -> bool:
        return scope in (self.scopes or [])

    @property
    def scope_labels(self) -> list[str]:
        return [Scope(value).label for value in ALL_SCOPES if value in (self.scopes or [])]
