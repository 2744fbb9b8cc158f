"""Statistics on the deals' close month (PostgreSQL 14 and later; nothing on SQLite or an older server).

The loss-reasons report groups the reasons of the period's lost deals by their close month
(app.money.service.month_start). PostgreSQL keeps no statistics on an expression, so it counted the close
dates instead, a group per day: at 100,000 deals it planned 80,000 groups for 1,800, and never split the
aggregate across workers as it does a plain aggregate of the same rows. With the statistics it does.
The expression must stay the one month_start writes (tests/reports/test_loss_reasons.py checks it).

Revision ID: 0047_close_month_statistics
Revises: 0046_first_in_theme
"""

from alembic import op

revision = "0047_close_month_statistics"
down_revision = "0046_first_in_theme"
branch_labels = None
depends_on = None

CLOSE_MONTH = "CAST(date_trunc('month', CAST(close_date AS TIMESTAMP)) AS DATE)"


def _expression_statistics() -> bool:
    bind = op.get_bind()
    return bind.dialect.name == "postgresql" and bind.dialect.server_version_info >= (14,)


def upgrade():
    if _expression_statistics():
        op.execute(
            f"CREATE STATISTICS IF NOT EXISTS st_opportunities_close_month ON ({CLOSE_MONTH}) FROM opportunities"
        )
        op.execute("ANALYZE opportunities")


def downgrade():
    if _expression_statistics():
        op.execute("DROP STATISTICS IF EXISTS st_opportunities_close_month")
