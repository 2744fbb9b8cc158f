"""Periodic jobs: the registry on the app, the schedule each worker keeps, and the locks that let one
worker at a time run a job (PostgreSQL advisory locks). The outbox worker only runs them."""

from __future__ import annotations

import contextlib
import logging
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from flask import Flask, current_app
from sqlalchemy import text

from app.extensions import db

log = logging.getLogger("winback.jobs")


@dataclass
class PeriodicJob:
    name: str
    every_seconds: float
    func: Callable[[datetime], object]


PERIODIC_JOBS_KEY = "winback.periodic_jobs"


def _registry(app: Flask) -> dict[str, PeriodicJob]:
    return app.extensions.setdefault(PERIODIC_JOBS_KEY, {})


def register_periodic_job(
    app: Flask, name: str, every_seconds: float, func: Callable[[datetime], object]
) -> None:
    """Have every worker of `app` run func(now) about every `every_seconds`, in an app context.

    The registry lives on the app (`app.extensions`), so two apps in one process keep their own jobs.
    The worker commits after func returns and rolls back if it raises. On PostgreSQL one worker at a
    time runs a given job (an advisory lock); jobs must still be idempotent (enrollment, reminders),
    and should commit their own work in bounded chunks when it can be large (SQLite has one writer).
    Registering the same name again replaces the job.
    """
    if every_seconds <= 0:
        raise ValueError("every_seconds must be positive")
    _registry(app)[name] = PeriodicJob(name, every_seconds, func)


def unregister_periodic_job(app: Flask, name: str) -> None:
    _registry(app).pop(name, None)


def periodic_jobs(app: Flask) -> list[PeriodicJob]:
    return list(_registry(app).values())


def _advisory_key(name: str) -> int:
    return zlib.crc32(f"winback-job:{name}".encode())


def run_due_jobs(*, now: datetime, last_runs: dict[str, datetime] | None = None) -> list[str]:
    """Run the registered jobs whose interval has passed; returns the names run.

    `last_runs` (job name -> time) is the caller's own schedule, updated here: each Worker keeps
    one, so two workers of one app (or one app used by many tests) never share it. Without it,
    every job is due.
    """
    last_runs = {} if last_runs is None else last_runs
    ran = []
    for job in periodic_jobs(current_app):
        last_run = last_runs.get(job.name)
        if last_run is not None and (now - last_run).total_seconds() < job.every_seconds:
            continue
        last_runs[job.name] = now
        try:
            with _job_lock(job.name) as locked:
                if not locked:
                    continue
                job.func(now)
                db.session.commit()
            ran.append(job.name)
        except Exception:
            db.session.rollback()
            log.exception("periodic job %s failed", job.name)
    return ran


@contextlib.contextmanager
def _job_lock(name: str) -> Iterator[bool]:
    """PostgreSQL: one worker at a time runs a job, even one that commits in chunks as it goes.

    A session-level advisory lock on a connection of its own (autocommit), held for the whole job:
    a transaction-level lock would be released by the job's first intermediate commit.
    """
    if db.engine.dialect.name != "postgresql":
        yield True
        return
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        key = {"k": _advisory_key(name)}
        locked = bool(connection.scalar(text("SELECT pg_try_advisory_lock(:k)"), key))
        try:
            yield locked
        finally:
            if locked:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), key)
