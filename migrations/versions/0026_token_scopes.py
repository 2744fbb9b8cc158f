"""API token scopes: what each token may do (push opportunities, update requalifications, read).

Tokens made before scopes existed could do everything: the column's default gives them every scope.

Revision ID: 0026_token_scopes
Revises: 0023_home_indexes
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0026_token_scopes"
down_revision = "0023_home_indexes"
branch_labels = None
depends_on = None

ALL_SCOPES = json.dumps(["opportunities:push", "requalifications:update", "read"])


def upgrade():
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("scopes", sa.JSON(), nullable=False, server_default=ALL_SCOPES))


def downgrade():
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("scopes")
