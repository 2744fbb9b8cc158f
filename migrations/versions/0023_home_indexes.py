"""Indexes for the dashboard: the month's survey invitations (the targets' response rate).

Revision ID: 0023_home_indexes
Revises: 0022_pipeline_currency
"""

from alembic import op

revision = "0023_home_indexes"
down_revision = "0022_pipeline_currency"
branch_labels = None
depends_on = None

INDEXES = (("ix_survey_invitations_sent", "survey_invitations", ["sent_at"]),)


def upgrade():
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade():
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
