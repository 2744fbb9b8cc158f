"""The reporting currency (one row) and the monthly exchange rates into it."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db_types import UTCDateTime, utcnow
from app.extensions import db


class ReportingSettings(db.Model):
    __tablename__ = "reporting_settings"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ExchangeRate(db.Model):
    """One unit of `currency` is worth `rate` units of `quote_currency` for deals closed in `month`."""

    __tablename__ = "exchange_rates"
    __table_args__ = (
        UniqueConstraint("month", "currency", "quote_currency"),
        CheckConstraint("rate > 0", name="positive_rate"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[date]  # the first day of the month
    currency: Mapped[str] = mapped_column(String(3))
    # The reporting currency the rate was entered for; rates into an earlier one are kept, unused.
    quote_currency: Mapped[str] = mapped_column(String(3))
    rate: Mapped[Decimal] = mapped_column(Numeric(18, 8))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<ExchangeRate {self.month:%Y-%m} {self.currency}->{self.quote_currency} {self.rate}>"
