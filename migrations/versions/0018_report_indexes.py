"""Indexes the reports' plans need.

An owner's deals (and the owners, one probe each), the deals behind a reason, the responses of a deal,
a period's enrollments and call attempts.

Revision ID: 0018_report_indexes
Revises: 0017_reports
"""

from alembic import op

revision = "0018_report_indexes"
down_revision = "0017_reports"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_opportunities_owner_close", "opportunities", ["owner", "close_date"]),
    ("ix_opportunity_reasons_code_opportunity", "opportunity_reasons", ["reason_code_id", "opportunity_id"]),
    ("ix_survey_responses_opportunity", "survey_responses", ["opportunity_id"]),
    ("ix_enrollments_enrolled", "enrollments", ["enrolled_at"]),
    ("ix_call_attempts_started", "call_attempts", ["started_at"]),
)


def upgrade():
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade():
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
