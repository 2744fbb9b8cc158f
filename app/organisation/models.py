"""The one organisation row: who is asking, as customers see it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db_types import UTCDateTime, utcnow
from app.extensions import db


class Organisation(db.Model):
    __tablename__ = "organisation"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)  # one organisation per installation

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    brand_colour: Mapped[str | None] = mapped_column(String(7))  # "#rrggbb", 4.5:1 or more on white
    postal_address: Mapped[str] = mapped_column(Text, default="")  # email footers (CAN-SPAM)
    logo: Mapped[bytes | None] = mapped_column(LargeBinary)
    logo_type: Mapped[str | None] = mapped_column(String(40))  # image/png, image/jpeg, image/gif, image/webp
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<Organisation {self.name!r}>"
