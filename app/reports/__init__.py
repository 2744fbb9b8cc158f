"""Reports: loss reasons, what sales said next to what customers said, the recovery funnel, competitors,
sales follow-up, callers (insight layer)."""

from __future__ import annotations

from flask import Flask

from app.reports import (
    recovery_views,  # noqa: F401 (registers the funnel, competitors and follow-up pages)
    settings_views,  # noqa: F401 (the targets page's routes on bp)
)
from app.reports.views import bp

__all__ = ["bp", "init_app"]


def init_app(app: Flask) -> None:
    """The role homes' panels on the core dashboard, the early-warning job and `flask reports`."""
    from app.db_types import utcnow
    from app.messaging.worker import register_periodic_job
    from app.reports.cli import reports_cli
    from app.reports.home import register_home_panels
    from app.reports.targets import send_target_alerts

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
