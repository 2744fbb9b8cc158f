"""The live CRM sync: each connection's high-water mark and health, and the queue of deals to push.

Revision ID: 0031_crm_sync
Revises: 0025_contact_address
"""

import sqlalchemy as sa
from alembic import op

from app.db_types import UTCDateTime

revision = "0031_crm_sync"
down_revision = "0025_contact_address"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "crm_connections",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("crm_source", sa.String(32), nullable=False),
        sa.Column("high_water_mark", UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("last_run_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("failed_at", UTCDateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("crm_source", name=op.f("uq_crm_connections_crm_source")),
    )
    op.create_table(
        "crm_pushes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("winback_id", sa.String(32), nullable=False),
        sa.Column("deal", sa.JSON(), nullable=False),
        sa.Column("pushed", sa.Boolean(), nullable=False),
        sa.Column("crm_source", sa.String(32), nullable=True),
        sa.Column("crm_id", sa.String(255), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("pushed_at", UTCDateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("winback_id", name=op.f("uq_crm_pushes_winback_id")),
    )
    op.create_index(op.f("ix_crm_pushes_pushed"), "crm_pushes", ["pushed"])


def downgrade():
    op.drop_index(op.f("ix_crm_pushes_pushed"), table_name="crm_pushes")
    op.drop_table("crm_pushes")
    op.drop_table("crm_connections")
