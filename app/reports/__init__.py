"""Reports: loss reasons, what sales said next to what customers said, the recovery funnel, competitors,
sales follow-up, callers (insight layer)."""

from __future__ import annotations

from flask import Flask

from app.reports import recovery_views, settings_views
from app.reports.views import bp

# The funnel, competitors and follow-up pages, and the targets settings, join the reports blueprint here,
# once (before any app registers it).
for _routes in (recovery_views.routes, settings_views.routes):
    _routes.add_to(bp)

__all__ = ["bp", "init_app"]


MENU = (
    ("Reports", "All reports", "reports.index", 19),
    ("Reports", "Loss reasons", "reports.loss_reasons", 20),
    ("Reports", "Sales said, customers said", "reports.sales_vs_customers", 21),
    ("Reports", "Recovery funnel", "reports.funnel", 22),
    ("Reports", "Competitors", "reports.competitors", 23),
    ("Reports", "Sales follow-up", "reports.sales_follow_up", 24),
    ("Reports", "Callers", "reports.callers", 25),
    ("Settings", "Funnel targets", "reports.targets_settings", 28),
)  # group, label, endpoint, position in the group


def init_app(app: Flask) -> None:
    """The report pages, the role homes' panels on the core dashboard, the early-warning job and
    `flask reports`."""
    from app.auth.menu import add_menu_item

    for group, label, endpoint, position in MENU:
        add_menu_item(app, group, label, endpoint, position=position)
    from app.db_types import utcnow
    from app.jobs import register_periodic_job
    from app.reports.cli import reports_cli
    from app.reports.home import register_home_panels
    from app.reports.targets import send_target_alerts

    app.register_blueprint(bp)
    register_home_panels(app)
    app.cli.add_command(reports_cli)
    dashboard_url = app.config["PUBLIC_BASE_URL"].rstrip("/") + "/dashboard"
    # Hourly; each metric warns once a month (a TargetAlert row per month and metric).
    register_periodic_job(
        app,
        "reports.target_alerts",
        3600,
        lambda now: send_target_alerts(now=now or utcnow(), dashboard_url=dashboard_url),
    )
