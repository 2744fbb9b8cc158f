"""The outbox: every email and SMS is a row first, delivered by a worker after commit."""

from __future__ import annotations

from flask import Flask

__all__ = ["init_app"]


MENU = (
    ("Campaigns", "Outbox", "messaging.outbox", 5),
    ("Campaigns", "Replies", "messaging.replies", 6),
    ("Campaigns", "Do not contact", "messaging.do_not_contact", 7),
)  # group, label, endpoint, position in the group


def init_app(app: Flask) -> None:
    """The outbox pages, `flask worker`, the dev server's worker thread, and the staff emails auth sends."""
    from app.auth.menu import add_menu_item

    for group, label, endpoint, position in MENU:
        add_menu_item(app, group, label, endpoint, position=position)
    from app.auth.service import register_staff_mailer
    from app.messaging.cli import worker_command
    from app.messaging.service import queue_staff_email
    from app.messaging.views import bp
    from app.messaging.worker import install_dev_worker_thread

    app.register_blueprint(bp)
    app.cli.add_command(worker_command)
    install_dev_worker_thread(app)
    register_staff_mailer(app, queue_staff_email)
