"""organisation settings (name, logo, brand colour, postal address); campaign From and Reply-To

Revision ID: 0013_survey_ux
Revises: 0012_campaign_ux
Create Date: 2026-11-28 23:30:00

"""
from alembic import op
import sqlalchemy as sa

import app.db_types


# revision identifiers, used by Alembic.
revision = '0013_survey_ux'
down_revision = '0012_campaign_ux'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('organisation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('brand_colour', sa.String(length=7), nullable=True),
    sa.Column('postal_address', sa.Text(), nullable=False),
    sa.Column('logo', sa.LargeBinary(), nullable=True),
    sa.Column('logo_type', sa.String(length=40), nullable=True),
    sa.Column('updated_at', app.db_types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_organisation_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisation'))
    )
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('from_name', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('from_email', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('reply_to', sa.String(length=254), nullable=True))


def downgrade():
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('reply_to')
        batch_op.drop_column('from_email')
        batch_op.drop_column('from_name')
    op.drop_table('organisation')
