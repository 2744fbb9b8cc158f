"""Unassigned requalifications: the manager who took one (or an admin gave it to), when no team's owners or
regions match its deal.

Revision ID: 0045_unassigned
Revises: 0042_voice
"""

import sqlalchemy as sa
from alembic import op

revision = "0045_unassigned"
down_revision = "0042_voice"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("requalifications") as batch:
        batch.add_column(sa.Column("assignee_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_requalifications_assignee_id_users"), "users", ["assignee_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index(op.f("ix_requalifications_assignee_id"), ["assignee_id"])


def downgrade():
    with op.batch_alter_table("requalifications") as batch:
        batch.drop_index(op.f("ix_requalifications_assignee_id"))
        batch.drop_constraint(op.f("fk_requalifications_assignee_id_users"), type_="foreignkey")
        batch.drop_column("assignee_id")
