"""imports: row warnings, heartbeat, competitor merge suggestions

Revision ID: 0009_imports
Revises: 0008_reliability
Create Date: 2026-11-28 23:30:00

"""

import sqlalchemy as sa
from alembic import op

import app.db_types

# revision identifiers, used by Alembic.
revision = "0009_imports"
down_revision = '0008_reliability'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("import_batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("warnings", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("heartbeat_at", app.db_types.UTCDateTime(), nullable=True))
    with op.batch_alter_table("import_row_errors", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "severity",
                sa.Enum("error", "warning", name="severity", native_enum=False, length=16),
                server_default="error",
                nullable=False,
            )
        )
    op.create_table(
        "competitor_merge_suggestions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("competitor_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("created_at", app.db_types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["competitor_id"],
            ["competitors.id"],
            name=op.f("fk_competitor_merge_suggestions_competitor_id_competitors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["competitors.id"],
            name=op.f("fk_competitor_merge_suggestions_target_id_competitors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_competitor_merge_suggestions")),
        sa.UniqueConstraint(
            "competitor_id", "target_id", name=op.f("uq_competitor_merge_suggestions_competitor_id_target_id")
        ),
    )
    with op.batch_alter_table("competitor_merge_suggestions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_competitor_merge_suggestions_target_id"), ["target_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("competitor_merge_suggestions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_competitor_merge_suggestions_target_id"))
    op.drop_table("competitor_merge_suggestions")
    with op.batch_alter_table("import_row_errors", schema=None) as batch_op:
        batch_op.drop_column("severity")
    with op.batch_alter_table("import_batches", schema=None) as batch_op:
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("warnings")
