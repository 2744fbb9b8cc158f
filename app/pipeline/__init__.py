"""Requalification and the sales review (the insight layer): recycled opportunities back into the pipeline."""

from __future__ import annotations

from flask import Flask

from app.pipeline import settings_views  # noqa: F401  (its routes join the pipeline's blueprint)
from app.pipeline.cli import pipeline_cli
from app.pipeline.views import api_bp, bp

__all__ = ["api_bp", "bp", "init_app", "pipeline_cli"]


MENU = (
    ("Pipeline", "Review queue", "pipeline.queue", 15),
    ("Pipeline", "Accepted and recycled", "pipeline.recycled", 16),
    ("Pipeline", "Service levels", "pipeline.sla", 17),
    ("Pipeline", "Pipeline settings", "pipeline.settings", 18),
)  # group, label, endpoint, position in the group


def init_app(app: Flask) -> None:
    """Everything the pipeline brings: the review pages and their API, `flask pipeline`, signals, jobs."""
    from app.auth.menu import add_menu_item

    for group, label, endpoint, position in MENU:
        add_menu_item(app, group, label, endpoint, position=position)
    from app.db_types import utcnow
    from app.jobs import register_periodic_job
    from app.pipeline.digest import queue_digests
    from app.pipeline.recycling import link_recycled
    from app.pipeline.service import return_deferred
    from app.pipeline.signals import connect_signals

    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
    app.cli.add_command(pipeline_cli)
    connect_signals()
    register_periodic_job(app, "pipeline.return_deferred", 3600, return_deferred)
    register_periodic_job(app, "pipeline.link_recycled", 3600, lambda now: link_recycled(now=now or utcnow()))
    review_url = app.config["PUBLIC_BASE_URL"].rstrip("/") + "/pipeline/review"
    # Hourly, but once a day per manager (the outbox's idempotency key carries the date).
    register_periodic_job(
        app, "pipeline.digest", 3600, lambda now: queue_digests(now=now or utcnow(), review_url=review_url)
    )
