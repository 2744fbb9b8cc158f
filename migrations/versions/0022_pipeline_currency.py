"""Recovered revenue is in the reporting currency (Settings › Currency): the pipeline's own currency goes.

Revision ID: 0022_pipeline_currency
Revises: 0021_outbox_epoch
"""

import sqlalchemy as sa
from alembic import op

revision = "0022_pipeline_currency"
down_revision = "0021_outbox_epoch"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("pipeline_settings") as batch:
        batch.drop_column("currency")


def downgrade():
    with op.batch_alter_table("pipeline_settings") as batch:
        batch.add_column(sa.Column("currency", sa.String(3), nullable=False, server_default="USD"))
