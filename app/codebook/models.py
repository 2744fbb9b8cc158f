"""ReasonCode: the codebook, a tree of win/loss reasons (`price` › `price.too_high`)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db_types import UTCDateTime, str_enum, utcnow
from app.extensions import db


class Polarity(enum.StrEnum):
    LOSS = "loss"
    WIN = "win"
    BOTH = "both"


class ReasonCode(db.Model):
    __tablename__ = "reason_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(120), unique=True)  # dotted path, e.g. "price.too_high"
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("reason_codes.id", ondelete="RESTRICT"))
    label: Mapped[str] = mapped_column(String(200))
    definition: Mapped[str | None] = mapped_column(Text)
    example: Mapped[str | None] = mapped_column(Text)
    polarity: Mapped[Polarity] = mapped_column(str_enum(Polarity, 8), default=Polarity.LOSS)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    parent: Mapped[ReasonCode | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[ReasonCode]] = relationship(back_populates="parent")

    def __repr__(self) -> str:
        return f"<ReasonCode {self.code}>"
