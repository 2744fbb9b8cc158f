"""Languages: a contact's language, and a survey version's translations (one row per language).

Revision ID: 0044_languages
Revises: 0045_crm_credentials
"""

import sqlalchemy as sa
from alembic import op

from app.db_types import UTCDateTime

revision = "0044_languages"
down_revision = "0045_crm_credentials"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))
    op.create_table(
        "survey_translations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("texts", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["survey_versions.id"],
            name=op.f("fk_survey_translations_version_id_survey_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_translations")),
        sa.UniqueConstraint("version_id", "language", name=op.f("uq_survey_translations_version_id_language")),
    )


def downgrade():
    op.drop_table("survey_translations")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("language")
