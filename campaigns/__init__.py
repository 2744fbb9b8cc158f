"""Campaigns: targeting, enrollment and suppression, the call queue."""

from __future__ import annotations

from flask import Flask

from campaigns import approval_views  # noqa: F401  (its routes join the campaigns blueprint)
from campaigns.cli import campaigns_cli
from campaigns.signals import connect_signals
from campaigns.views import bp

__all__ = ["bp", "campaigns_cli", "connect_signals", "init_app"]


MENU = (("Campaigns", "Campaigns", "campaigns.index", 4),)  # group, label, endpoint, position in the group


def init_app(app: Flask) -> None:
    """The campaign pages, `flask campaigns`, the signals, the import's campaign matches, enrollment."""
    from app.auth.menu import add_menu_item

    for group, label, endpoint, position in MENU:
        add_menu_item(app, group, label, endpoint, position=position)
    from app.auth.menu import add_link
    from app.crm.importing import campaign_matches
    from app.database import commit_checkpoint
    from app.jobs import register_periodic_job
    from campaigns import import_matches
    from campaigns.enrollment import run_periodic_enrollment

    app.register_blueprint(bp)
    app.cli.add_command(campaigns_cli)
    add_link(app, "outbox.empty", "Go to the campaigns", "campaigns.index")
    connect_signals()
    # The answer the import asks of campaigns (the core never imports them).
    app.extensions[campaign_matches.PROVIDER] = import_matches.PROVIDER
    register_periodic_job(
        app,
        "campaigns.enroll_and_remind",
        app.config["ENROLLMENT_INTERVAL_SECONDS"],
        # Jobs commit in chunks of a few thousand rows: SQLite's one write lock is never held for long.
        lambda now: run_periodic_enrollment(now=now, checkpoint=commit_checkpoint),
    )
