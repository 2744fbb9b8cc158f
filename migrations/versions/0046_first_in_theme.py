"""Each deal's first reason in each theme, marked (opportunity_reasons.first_in_theme): the loss-reasons report
counts its themes from the marked rows instead of a second pass over the distinct (deal, theme) pairs.

Revision ID: 0046_first_in_theme
Revises: 0044_languages
"""

import sqlalchemy as sa
from alembic import op

revision = "0046_first_in_theme"
down_revision = "0044_languages"
branch_labels = None
depends_on = None


def _themes(connection) -> dict[int, int]:
    """The theme (the top of its tree) of every code, as app.codebook.themes.themes_by_code found it here."""
    codes = {
        row.id: row for row in connection.execute(sa.text("SELECT id, code, parent_id FROM reason_codes"))
    }
    by_path = {row.code: row for row in codes.values()}
    themes = {}
    for code_id, row in codes.items():
        top, seen = row, {code_id}
        while top.parent_id is not None and top.parent_id in codes and top.parent_id not in seen:
            seen.add(top.parent_id)
            top = codes[top.parent_id]
        if top.parent_id is not None and top.parent_id not in codes:
            top = by_path.get(top.code.split(".", 1)[0], top)
        themes[code_id] = top.id
    return themes


def upgrade():
    with op.batch_alter_table("opportunity_reasons") as batch:
        batch.add_column(sa.Column("first_in_theme", sa.Boolean(), server_default=sa.false(), nullable=False))
    connection = op.get_bind()
    themes = _themes(connection)
    if not themes:
        return
    table = sa.table(
        "opportunity_reasons",
        sa.column("opportunity_id", sa.Integer),
        sa.column("reason_code_id", sa.Integer),
        sa.column("first_in_theme", sa.Boolean),
    )
    earlier = table.alias("earlier")

    def theme(column):
        return sa.case(themes, value=column)

    first = ~sa.exists().where(
        earlier.c.opportunity_id == table.c.opportunity_id,
        earlier.c.reason_code_id < table.c.reason_code_id,
        theme(earlier.c.reason_code_id) == theme(table.c.reason_code_id),
    )
    connection.execute(sa.update(table).values(first_in_theme=first))


def downgrade():
    with op.batch_alter_table("opportunity_reasons") as batch:
        batch.drop_column("first_in_theme")
