"""A contact's address (state or province, country): its time zones for calling hours. A time zone set
holds a whole country's zones (the 29 of the US, for a toll-free number): 2,000 characters, not 400.

Revision ID: 0025_contact_address
Revises: 0029_coded_questions
"""

import sqlalchemy as sa
from alembic import op

revision = "0025_contact_address"
down_revision = "0024_call_tokens"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("state", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("country", sa.String(length=2), nullable=True))
    with op.batch_alter_table("call_time_zone_sets") as batch:
        batch.alter_column("zones", type_=sa.String(length=2000), existing_type=sa.String(length=400))


def downgrade():
    with op.batch_alter_table("call_time_zone_sets") as batch:
        batch.alter_column("zones", type_=sa.String(length=400), existing_type=sa.String(length=2000))
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("country")
        batch.drop_column("state")
