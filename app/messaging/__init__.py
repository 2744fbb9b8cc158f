"""The outbox: every email and SMS is a row first, delivered by a worker after commit."""

from __future__ import annotations

from flask import Flask

from app.messaging.views import bp

__all__ = ["bp", "init_app"]


def init_app(app: Flask) -> None:
    """The outbox pages, `flask worker`, and the dev server's worker thread."""
    from app.messaging.cli import worker_command
    from app.messaging.worker import install_dev_worker_thread

    app.register_blueprint(bp)
    app.cli.add_command(worker_command)
    install_dev_worker_thread(app)
