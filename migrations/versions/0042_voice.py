"""Browser calling, recording consent, number health and handling time.

Attempts keep how the call was placed, when the caller was connected, the contact's call leg, the
answering-machine verdict, the recording notice and the recording; campaigns keep a voicemail to drop;
call_number_holds lists the numbers the queue does not dial.

Revision ID: 0042_voice
Revises: 0043_sender_exclusions
"""

import sqlalchemy as sa
from alembic import op

from app.db_types import UTCDateTime

revision = "0042_voice"
down_revision = "0043_sender_exclusions"
branch_labels = None
depends_on = None

ATTEMPT_COLUMNS = (
    ("mode", sa.String(10)),
    ("connected_at", UTCDateTime(timezone=True)),
    ("contact_call_sid", sa.String(64)),
    ("answered_by", sa.String(32)),
    ("suggested_disposition", sa.String(16)),
    ("announced_at", UTCDateTime(timezone=True)),
    ("recording_sid", sa.String(64)),
    ("recording_url", sa.String(500)),
    ("recording_seconds", sa.Integer()),
)


def upgrade():
    with op.batch_alter_table("call_attempts") as batch:
        for name, type_ in ATTEMPT_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("voicemail_audio_url", sa.String(500), nullable=True))
        batch.add_column(sa.Column("voicemail_text", sa.Text(), nullable=True))
    op.create_table(
        "call_number_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(120), nullable=False),
        sa.Column("held_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("held_until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("released_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("released_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name="fk_call_number_holds_contact_id_contacts",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["released_by_id"],
            ["users.id"],
            name="fk_call_number_holds_released_by_id_users",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_call_number_holds"),
    )
    op.create_index("ix_call_number_holds_phone", "call_number_holds", ["phone", "held_until"])


def downgrade():
    op.drop_index("ix_call_number_holds_phone", table_name="call_number_holds")
    op.drop_table("call_number_holds")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("voicemail_text")
        batch.drop_column("voicemail_audio_url")
    with op.batch_alter_table("call_attempts") as batch:
        for name, _ in reversed(ATTEMPT_COLUMNS):
            batch.drop_column(name)
