"""The call queue: tasks and attempts, filling and claiming, calling hours, dialing, dispositions."""

from __future__ import annotations

from flask import Flask

from campaigns.calls import softphone, supervision, webhooks  # noqa: F401 (their routes join bp)
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
    app.add_template_global(_both_times, "callback_times")
    app.add_template_filter(_local_time, "local_time")
    app.add_template_global(_calling_hours, "calling_hours")
    app.cli.add_command(calls_cli)
    set_home(app, Role.CALLER, "calls.queue")  # a caller's home page is their call queue
    register_periodic_job(
        app, "calls.fill_queue", app.config["CALL_FILL_INTERVAL_SECONDS"], lambda now: fill_queue(now=now)
    )


def _both_times(task, when) -> str:
    """A callback's time for the templates: the contact's and the signed-in user's."""
    from flask_login import current_user

    from campaigns.calls.clocks import both_times

    return both_times(task, when, getattr(current_user, "timezone", None) or "UTC")


def _local_time(when, zone: str) -> str:
    """ "14:05" in `zone`."""
    from app.crm.places import zone_info

    return "—" if when is None else when.astimezone(zone_info(zone) or zone_info("UTC")).strftime("%H:%M")


def _calling_hours(campaign) -> str:
    """ "Mon–Fri, 09:00–17:00": the campaign's calling days and hours."""
    from campaigns.calls.clocks import describe_window
    from campaigns.calls.hours import campaign_window

    return describe_window(campaign_window(campaign))
