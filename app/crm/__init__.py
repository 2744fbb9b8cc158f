"""Accounts, contacts, opportunities: what came from the CRM and goes back to it."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from app.crm.views import bp

__all__ = ["bp", "init_app"]


MENU = (
    ("Deals", "Lost deals", "crm.opportunities", 1),
    ("Deals", "Accounts", "crm.accounts", 2),
    ("Deals", "Imports", "imports.history", 3),
    ("Deals", "CRM connection", "crm_sync.connection", 4),
)  # group, label, endpoint, position in the group
# The CRM's reference pages, linked beside the imports (their addresses are under /imports).
IMPORTS_LINKS = (
    ("Competitors", "competitors.competitors"),
    ("Loss reasons", "loss_reasons.loss_reasons"),
)


def init_app(app: Flask) -> None:
    """The deal and import pages, `flask crm`, and the import jobs the worker runs."""
    from app.auth.menu import add_link, add_menu_item

    for group, label, endpoint, position in MENU:
        add_menu_item(app, group, label, endpoint, position=position)
    for label, endpoint in IMPORTS_LINKS:
        add_link(app, "imports", label, endpoint)
    from app.codebook.service import register_code_references
    from app.crm import competitor_views, loss_reason_views
    from app.crm.cli import crm_cli
    from app.crm.importing.campaign_matches import campaign_detail_endpoint
    from app.crm.importing.jobs import delete_old_uploads, run_import_jobs
    from app.crm.importing.views import bp as imports_bp
    from app.crm.models import LossReasonMapping
    from app.crm.sync import register_sync_jobs
    from app.crm.sync.views import bp as sync_bp
    from app.db_types import utcnow
    from app.jobs import register_periodic_job

    app.register_blueprint(bp)
    app.register_blueprint(imports_bp)
    app.register_blueprint(sync_bp)
    app.register_blueprint(competitor_views.bp)
    app.register_blueprint(loss_reason_views.bp)
    app.cli.add_command(crm_cli)
    app.jinja_env.globals["campaign_detail_endpoint"] = campaign_detail_endpoint
    register_code_references(app, LossReasonMapping.reason_code_id)
    register_periodic_job(
        app,
        "imports.run_jobs",
        app.config["IMPORT_POLL_SECONDS"],
        lambda now: run_import_jobs(config=app.config, clock=utcnow),
    )
    register_sync_jobs(app)
    register_periodic_job(
        app,
        "imports.delete_old_uploads",
        3600,
        lambda now: delete_old_uploads(
            folder=Path(app.config["INSTANCE_DIR"]) / "imports",
            now=now,
            retention_days=app.config["IMPORT_UPLOAD_RETENTION_DAYS"],
        ),
    )
