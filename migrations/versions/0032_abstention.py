"""Abstention: each code's suggestion threshold and its held-out precision, recall and abstention rate.

Revision ID: 0032_abstention
Revises: 0031_crm_sync
"""

import sqlalchemy as sa
from alembic import op

revision = "0032_abstention"
down_revision = "0031_crm_sync"
branch_labels = None
depends_on = None

FIGURES = ("suggest_threshold", "threshold_precision", "threshold_recall", "abstention_rate")


def upgrade():
    with op.batch_alter_table("coding_code_settings") as batch:
        for name in FIGURES:
            batch.add_column(sa.Column(name, sa.Float(), nullable=True))
        batch.add_column(
            sa.Column("never_suggested", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("precision_curve", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("coding_code_settings") as batch:
        for name in (*FIGURES, "never_suggested", "precision_curve"):
            batch.drop_column(name)
