"""The CRM connection page: a login's plain settings and its secrets, encrypted at rest.

Revision ID: 0045_crm_credentials
Revises: 0045_unassigned
"""

import sqlalchemy as sa
from alembic import op

from app.db_types import UTCDateTime

revision = "0045_crm_credentials"
down_revision = "0045_unassigned"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "crm_credentials",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("crm_source", sa.String(32), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("secrets", sa.Text(), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(255), nullable=True),
        sa.UniqueConstraint("crm_source", name=op.f("uq_crm_credentials_crm_source")),
    )


def downgrade():
    op.drop_table("crm_credentials")
