"""The database server's start time on each outbox claim: attempt markers may then be committed
without waiting for the disk (see app.messaging.worker._ledger).

Revision ID: 0021_outbox_epoch
Revises: 0020_targets
"""

import sqlalchemy as sa
from alembic import op

import app.db_types

revision = "0021_outbox_epoch"
down_revision = "0020_targets"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbound_messages") as batch:
        batch.add_column(sa.Column("claim_server_epoch", app.db_types.UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("outbound_messages") as batch:
        batch.drop_column("claim_server_epoch")
