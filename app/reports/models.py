"""The funnel assumptions sales and marketing agree on (monthly targets and rates), and the alerts sent."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db_types import UTCDateTime, utcnow
from app.extensions import db


class FunnelTargets(db.Model):
    """One row: the targets of every month and the rates the plan assumes (fractions, 0.25 = 25 %)."""

    __tablename__ = "funnel_targets"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint(
            "requalified_per_month >= 0 AND accepted_per_month >= 0 AND recovered_revenue_per_month >= 0",
            name="non_negative_targets",
        ),
        CheckConstraint(
            "response_rate >= 0 AND response_rate <= 1 AND acceptance_rate >= 0 AND acceptance_rate <= 1 "
            "AND win_rate >= 0 AND win_rate <= 1",
            name="rates_are_fractions",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    requalified_per_month: Mapped[int] = mapped_column(default=0)  # delivered to sales
    accepted_per_month: Mapped[int] = mapped_column(default=0)
    recovered_revenue_per_month: Mapped[Decimal] = mapped_column(Numeric(18, 2), default=Decimal(0))
    # The currency the revenue target was entered in: a later change of reporting currency shows it apart.
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    response_rate: Mapped[Decimal] = mapped_column(Numeric(5, 4), default=Decimal(0))
    acceptance_rate: Mapped[Decimal] = mapped_column(Numeric(5, 4), default=Decimal(0))
    win_rate: Mapped[Decimal] = mapped_column(Numeric(5, 4), default=Decimal(0))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class TargetAlert(db.Model):
    """An early warning sent for one metric in one month: the unique key makes it once, across workers."""

    __tablename__ = "target_alerts"
    __table_args__ = (UniqueConstraint("month", "metric"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[date]  # the first day of the month
    metric: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(String(500))
    recipients: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
