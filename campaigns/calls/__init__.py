"""The call queue: tasks and attempts, filling and claiming, calling hours, dialing, dispositions."""

from __future__ import annotations

from flask import Flask

from campaigns.calls.cli import calls_cli
from campaigns.calls.views import bp

__all__ = ["bp", "calls_cli", "init_app"]


MENU = (
    ("Calls", "Call queue", "calls.queue", 9),
    ("Calls", "Supervisor", "calls.supervisor", 10),
)  # group, label, endpoint, position in the group


def init_app(app: Flask) -> None:
    """The caller screens, `flask calls`, and the queue's one periodic job (fill, end, expire leases)."""
    from app.auth.menu import add_menu_item

    for group, label, endpoint, position in MENU:
        add_menu_item(app, group, label, endpoint, position=position)
    from app.auth.menu import set_home
    from app.auth.models import Role
    from app.jobs import register_periodic_job
    from campaigns.calls.queue import fill_queue

    app.register_blueprint(bp)
    app.cli.add_command(calls_cli)
    set_home(app, Role.CALLER, "calls.queue")  # a caller's home page is their call queue
    register_periodic_job(
        app, "calls.fill_queue", app.config["CALL_FILL_INTERVAL_SECONDS"], lambda now: fill_queue(now=now)
    )
