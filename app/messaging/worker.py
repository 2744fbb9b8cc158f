"""The outbox worker's run loop: reconcile stale rows now and then, run the due periodic jobs
(app/jobs.py), deliver the due messages (app/messaging/delivery.py); and the dev server's thread."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from flask import Flask, current_app

from app.db_types import utcnow
from app.extensions import db
from app.jobs import run_due_jobs
from app.messaging.delivery import (
    DEFAULT_BACKOFF_SECONDS,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_STALE_SECONDS,
    DeliveryStats,
    claim_due_messages,
    default_worker_id,
    deliver_claimed,
)
from app.messaging.reconciliation import reconcile_stale_messages
from app.messaging.transports import Transports, transports_from_config

log = logging.getLogger("winback.worker")


class Worker:
    """Deliver the outbox and run periodic jobs until stopped (SIGTERM/SIGINT finish the current batch)."""

    def __init__(
        self,
        app: Flask,
        *,
        transports: Transports | None = None,
        worker_id: str | None = None,
        batch_size: int = 50,
        poll_seconds: float = 2.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.app = app
        self.transports = transports or transports_from_config(app.config)
        self.worker_id = worker_id or default_worker_id()
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.stop_event = threading.Event()
        self.max_attempts = int(app.config.get("OUTBOX_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS))
        self.backoff_seconds = float(app.config.get("OUTBOX_BACKOFF_SECONDS", DEFAULT_BACKOFF_SECONDS))
        self.stale_seconds = float(app.config.get("OUTBOX_STALE_SECONDS", DEFAULT_STALE_SECONDS))
        self._last_reconcile: datetime | None = None
        self._last_runs: dict[str, datetime] = {}  # this worker's schedule of the periodic jobs

    def stop(self, *_args: object) -> None:
        self.stop_event.set()

    def deliver_due(self) -> DeliveryStats:
        """Deliver everything due now, batch by batch; returns what happened."""
        stats = DeliveryStats()
        while not self.stop_event.is_set():
            claimed_at = self.clock()
            ids = claim_due_messages(
                worker_id=self.worker_id,
                now=claimed_at,
                limit=self.batch_size,
                mail_from=getattr(self.transports.email, "mail_from", None),
            )
            if not ids:
                break
            stats.add(
                deliver_claimed(
                    ids,
                    self.transports,
                    worker_id=self.worker_id,
                    clock=self.clock,
                    max_attempts=self.max_attempts,
                    backoff_seconds=self.backoff_seconds,
                    # Well before another worker may take the rows back (transports time out sooner).
                    release_at=claimed_at + timedelta(seconds=self.stale_seconds / 2),
                    renew_seconds=self.stale_seconds / 10,
                )
            )
        return stats

    def tick(self) -> DeliveryStats:
        """One pass: reconcile stale rows now and then, run due jobs, deliver due messages."""
        now = self.clock()
        stats = DeliveryStats()
        if self._last_reconcile is None or (now - self._last_reconcile).total_seconds() >= 60:
            self._last_reconcile = now
            stats.reconciled = reconcile_stale_messages(
                self.transports, now=now, stale_seconds=self.stale_seconds
            )
        run_due_jobs(now=now, last_runs=self._last_runs)
        stats.add(self.deliver_due())
        return stats

    def run_once(self) -> DeliveryStats:
        with self.app.app_context():
            try:
                return self.tick()
            finally:
                self.transports.close()
                db.session.remove()

    def run_forever(self) -> None:
        with self.app.app_context():
            log.info("worker %s started", self.worker_id)
            try:
                while not self.stop_event.is_set():
                    try:
                        stats = self.tick()
                    except Exception:
                        db.session.rollback()
                        log.exception("worker pass failed; trying again shortly")
                        stats = DeliveryStats()
                    if stats.sent or stats.failed or stats.retried or stats.cancelled:
                        log.info("worker %s: %s", self.worker_id, stats)
                    db.session.remove()
                    self.stop_event.wait(self.poll_seconds)
            finally:
                self.transports.close()
                log.info("worker %s stopped", self.worker_id)


@contextlib.contextmanager
def stop_on_signals(worker: Worker) -> Iterator[None]:
    """SIGTERM and SIGINT ask the worker to finish the batch in hand and exit."""
    previous = {sig: signal.signal(sig, worker.stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# ------------------------------------------------------------------------------- dev server thread

_dev_thread_lock = threading.Lock()
_dev_thread: threading.Thread | None = None


def _dev_thread_wanted(app: Flask) -> bool:
    import sys

    return (
        not app.testing
        and app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
        and not os.environ.get("WINBACK_DISABLE_WORKER_THREAD")
        and os.environ.get("FLASK_RUN_FROM_CLI") == "true"
        and "run" in sys.argv[1:]
    )


def install_dev_worker_thread(app: Flask) -> None:
    """`flask run` on SQLite: one worker thread, started by the first request.

    Starting on the first request, not at import, means the reloader's watching parent process
    (which serves nothing) never starts one; only the process that serves does.
    """
    if not _dev_thread_wanted(app):
        return

    @app.before_request
    def _start_worker_thread() -> None:
        global _dev_thread
        if _dev_thread is not None:
            return
        with _dev_thread_lock:
            if _dev_thread is None:
                worker = Worker(current_app._get_current_object(), worker_id=f"{default_worker_id()}:dev")
                _dev_thread = threading.Thread(target=worker.run_forever, name="outbox-worker", daemon=True)
                _dev_thread.start()
