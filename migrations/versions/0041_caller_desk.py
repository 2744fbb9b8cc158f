"""The caller's desk: drafts saved as the caller types, and each user's own time zone.

Revision ID: 0041_caller_desk
Revises: 0032_abstention
"""

import sqlalchemy as sa
from alembic import op

revision = "0041_caller_desk"
down_revision = "0032_abstention"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "call_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("caller_id", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("callback_at", sa.String(length=32), nullable=True),
        sa.Column("callback_zone", sa.String(length=10), nullable=False),
        sa.Column("callback_for", sa.String(length=10), nullable=False),
        sa.Column("stop_after", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["call_tasks.id"], name=op.f("fk_call_drafts_task_id_call_tasks"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["caller_id"], ["users.id"], name=op.f("fk_call_drafts_caller_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_drafts")),
        sa.UniqueConstraint("task_id", "caller_id", name=op.f("uq_call_drafts_task_id_caller_id")),
    )
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("timezone_auto", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.drop_column("timezone_auto")
    op.drop_table("call_drafts")
