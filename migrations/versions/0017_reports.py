"""Reporting currency and monthly exchange rates.

Revision ID: 0017_reports
Revises: 0016_pipeline
"""

import sqlalchemy as sa
from alembic import op

import app.db_types

revision = "0017_reports"
down_revision = '0016_pipeline'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "reporting_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("updated_at", app.db_types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_reporting_settings_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reporting_settings")),
    )
    op.create_table(
        "exchange_rates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("quote_currency", sa.String(length=3), nullable=False),
        sa.Column("rate", sa.Numeric(precision=18, scale=8), nullable=False),
        sa.Column("updated_at", app.db_types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("rate > 0", name=op.f("ck_exchange_rates_positive_rate")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_rates")),
        sa.UniqueConstraint(
            "month",
            "currency",
            "quote_currency",
            name=op.f("uq_exchange_rates_month_currency_quote_currency"),
        ),
    )


def downgrade():
    op.drop_table("exchange_rates")
    op.drop_table("reporting_settings")
