"""Campaign sender and approval by name: the From name signs the messages; excluded enrollments keep a reason.

The separate "Sender" signature is folded into the From name ({{ sender }} is the From name), and an
enrollment an admin leaves out at approval is kept as `excluded` with the reason given.

Revision ID: 0043_sender_exclusions
Revises: 0041_caller_desk
"""

import sqlalchemy as sa
from alembic import op

revision = "0043_sender_exclusions"
down_revision = "0041_caller_desk"
branch_labels = None
depends_on = None


def upgrade():
    campaigns = sa.table("campaigns", sa.column("from_name", sa.String), sa.column("sender_name", sa.String))
    op.execute(
        campaigns.update()
        .where(sa.or_(campaigns.c.from_name.is_(None), campaigns.c.from_name == ""))
        .values(from_name=campaigns.c.sender_name)
    )
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("sender_name")
    with op.batch_alter_table("enrollments") as batch:
        batch.add_column(sa.Column("exclusion_reason", sa.String(length=500), nullable=True))


def downgrade():
    with op.batch_alter_table("enrollments") as batch:
        batch.drop_column("exclusion_reason")
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(
            sa.Column("sender_name", sa.String(length=120), nullable=False, server_default="The Winback team")
        )
    campaigns = sa.table("campaigns", sa.column("from_name", sa.String), sa.column("sender_name", sa.String))
    op.execute(
        campaigns.update().where(campaigns.c.from_name.is_not(None)).values(sender_name=campaigns.c.from_name)
    )
