"""`flask worker`: deliver the outbox and run periodic jobs."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from app.messaging.worker import Worker, stop_on_signals


@click.command("worker")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--batch-size", default=50, show_default=True, help="Messages claimed at a time.")
@click.option("--poll", "poll_seconds", default=2.0, show_default=True, help="Seconds between passes.")
@with_appcontext
def worker_command(once: bool, batch_size: int, poll_seconds: float) -> None:
    """Deliver due emails and SMS (several workers may run at once on PostgreSQL)."""
    worker = Worker(current_app._get_current_object(), batch_size=batch_size, poll_seconds=poll_seconds)
    with stop_on_signals(worker):
        if once:
            stats = worker.run_once()
            click.echo(
                f"Sent {stats.sent}, failed {stats.failed}, retrying {stats.retried}, "
                f"cancelled {stats.cancelled}, reconciled {stats.reconciled}."
            )
        else:
            click.echo(f"Worker {worker.worker_id} delivering the outbox; Ctrl-C or SIGTERM stops it.")
            worker.run_forever()
