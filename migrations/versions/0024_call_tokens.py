"""Call attempts: an unguessable id for Twilio's callbacks, and the time an open attempt was abandoned.

Revision ID: 0024_call_tokens
Revises: 0029_coded_questions
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0024_call_tokens"
down_revision = "0029_coded_questions"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("call_attempts", sa.Column("callback_token", sa.String(length=32), nullable=True))
    op.add_column("call_attempts", sa.Column("abandoned_at", sa.DateTime(timezone=True), nullable=True))
    attempts = sa.table("call_attempts", sa.column("id", sa.Integer), sa.column("callback_token", sa.String))
    connection = op.get_bind()
    for (attempt_id,) in connection.execute(sa.select(attempts.c.id)).all():
        connection.execute(
            attempts.update()
            .where(attempts.c.id == attempt_id)
            .values(callback_token=secrets.token_urlsafe(16))
        )
    op.create_index("uq_call_attempts_callback_token", "call_attempts", ["callback_token"], unique=True)


def downgrade():
    op.drop_index("uq_call_attempts_callback_token", table_name="call_attempts")
    with op.batch_alter_table("call_attempts") as batch_op:
        batch_op.drop_column("abandoned_at")
        batch_op.drop_column("callback_token")
