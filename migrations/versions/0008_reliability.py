"""Outbox: record when each send attempt started, so recovery tells "never tried" from "maybe sent".

Revision ID: 0008_reliability
Revises: 0007_campaigns
"""

import sqlalchemy as sa
from alembic import op

import app.db_types

revision = "0008_reliability"
down_revision = '0007_campaigns'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbound_messages") as batch_op:
        batch_op.add_column(sa.Column("send_started_at", app.db_types.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("outbound_messages") as batch_op:
        batch_op.drop_column("send_started_at")
