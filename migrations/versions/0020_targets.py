"""Funnel targets and assumed rates; the early warnings sent (once per month and metric).

Revision ID: 0020_targets
Revises: 0018_report_indexes
"""

import sqlalchemy as sa
from alembic import op

import app.db_types

revision = "0020_targets"
down_revision = "0018_report_indexes"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "funnel_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requalified_per_month", sa.Integer(), nullable=False),
        sa.Column("accepted_per_month", sa.Integer(), nullable=False),
        sa.Column("recovered_revenue_per_month", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("response_rate", sa.Numeric(precision=5, scale=4), nullable=False),
        sa.Column("acceptance_rate", sa.Numeric(precision=5, scale=4), nullable=False),
        sa.Column("win_rate", sa.Numeric(precision=5, scale=4), nullable=False),
        sa.Column("updated_at", app.db_types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_funnel_targets_single_row")),
        sa.CheckConstraint(
            "requalified_per_month >= 0 AND accepted_per_month >= 0 AND recovered_revenue_per_month >= 0",
            name=op.f("ck_funnel_targets_non_negative_targets"),
        ),
        sa.CheckConstraint(
            "response_rate >= 0 AND response_rate <= 1 AND acceptance_rate >= 0 AND acceptance_rate <= 1 "
            "AND win_rate >= 0 AND win_rate <= 1",
            name=op.f("ck_funnel_targets_rates_are_fractions"),
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["users.id"],
            name=op.f("fk_funnel_targets_updated_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funnel_targets")),
    )
    op.create_table(
        "target_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("sent_at", app.db_types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_target_alerts")),
        sa.UniqueConstraint("month", "metric", name=op.f("uq_target_alerts_month_metric")),
    )


def downgrade():
    op.drop_table("target_alerts")
    op.drop_table("funnel_targets")
