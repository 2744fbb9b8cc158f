"""Dry runs and imports started from the pages run as jobs: queued by the request, claimed and run by
`flask worker` (several workers on PostgreSQL claim with SKIP LOCKED), with a heartbeat. A batch whose
process died (a recycled web worker, kill -9) stops beating, is marked failed with a sentence saying so,
and can be run again: imports are idempotent, so the re-run converges."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from collections.abc import Mapping as ConfigMapping
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from app.crm.importing.drafts import draft_settings
from app.crm.importing.formats import Mapping
from app.crm.importing.models import BatchStatus, ImportBatch
from app.crm.importing.parsing import UnreadableFile
from app.crm.importing.service import run_import
from app.errors import Conflict
from app.extensions import db

log = logging.getLogger(__name__)

STALE_SECONDS = 300  # no heartbeat for this long: the process running the batch is gone


def queue_run(run: ImportBatch, mapping: Mapping) -> ImportBatch:
    """Queue a new run (a dry run or an import) with the mapping it reads the file with."""
    run.move_to(BatchStatus.QUEUED)
    run.settings = {**(run.settings or {}), "mapping": vars(mapping)}
    db.session.flush()
    return run


def claim_next(*, now: datetime) -> ImportBatch | None:
    """Take the oldest queued run for this process, or None. Two workers never take the same one."""
    candidate = db.session.scalar(
        select(ImportBatch.id)
        .where(ImportBatch.status == BatchStatus.QUEUED)
        .order_by(ImportBatch.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if candidate is None:
        return None
    # The guarded update is what makes the claim atomic on SQLite, which has no row locks.
    claimed = db.session.execute(
        ImportBatch.guarded_move(
            candidate,
            BatchStatus.QUEUED,
            BatchStatus.RUNNING,
            heartbeat_at=now,
            message=f"Claimed by {_worker_id()}",
        )
    )
    db.session.commit()
    if claimed.rowcount != 1:
        return None
    return db.session.get(ImportBatch, candidate, populate_existing=True)


def run_claimed(batch: ImportBatch, *, config: ConfigMapping, clock: Callable[[], datetime]) -> ImportBatch:
    """Run a claimed batch to its end, beating after each batch of rows; commit as it goes."""
    batch_id = batch.id
    batch.message = None

    def checkpoint() -> None:
        batch.heartbeat_at = clock()
        db.session.commit()

    try:
        mapping = Mapping(**batch.settings["mapping"])
        settings = draft_settings(batch, config)
        if not batch.stored_path or not Path(batch.stored_path).is_file():
            raise UnreadableFile("The uploaded file is no longer stored: upload it again")
        run_import(batch, batch.stored_path, mapping, settings, now=clock(), checkpoint=checkpoint)
    except UnreadableFile as error:
        if batch.status is not BatchStatus.FAILED:  # the import fails it itself when it can
            batch.move_to(BatchStatus.FAILED, message=batch.message or error.message, finished_at=clock())
    except Exception:
        log.exception("import %s failed", batch_id)
        db.session.rollback()
        batch = db.session.get(ImportBatch, batch_id)
        batch.move_to(
            BatchStatus.FAILED,
            finished_at=clock(),
            message="The import stopped on an unexpected error; rows before it were imported. Run it again.",
        )
    batch.heartbeat_at = clock()
    db.session.commit()
    return batch


def fail_stale(*, now: datetime, stale_seconds: float = STALE_SECONDS) -> list[int]:
    """Mark failed the running batches whose heartbeat stopped; the ids marked."""
    limit = now - timedelta(seconds=stale_seconds)
    stale = db.session.scalars(
        select(ImportBatch).where(
            ImportBatch.status == BatchStatus.RUNNING,
            ImportBatch.heartbeat_at.is_not(None),
            ImportBatch.heartbeat_at < limit,
        )
    ).all()
    for batch in stale:
        batch.move_to(BatchStatus.FAILED, finished_at=now)
        batch.message = (
            f"The process running this {'dry run' if batch.dry_run else 'import'} stopped "
            f"(no sign of life since {batch.heartbeat_at:%Y-%m-%d %H:%M} UTC). "
            + ("Rows before it were imported. " if not batch.dry_run else "")
            + "Run it again: rows already imported are left as they are."
        )
    db.session.flush()
    return [batch.id for batch in stale]


def rerun(batch: ImportBatch, *, user_id: int | None, actor_label: str, now: datetime) -> ImportBatch:
    """A new queued run of a failed (or finished) run's file and mapping."""
    if batch.status in (BatchStatus.QUEUED, BatchStatus.RUNNING, BatchStatus.DRAFT):
        raise Conflict("This import is not finished: it cannot be run again yet")
    if not (batch.settings or {}).get("mapping"):
        raise Conflict("This import was not started from the pages: run it again the way it was started")
    if not batch.stored_path or not Path(batch.stored_path).is_file():
        raise Conflict("The file of this import is no longer stored: upload it again")
    settings = {
        k: v for k, v in batch.settings.items() if k not in ("campaign_matches", "campaign_matched_deals")
    }
    run = ImportBatch(
        filename=batch.filename,
        stored_path=batch.stored_path,
        via=batch.via,
        user_id=user_id,
        actor_label=actor_label,
        format=batch.format,
        mapping_name=batch.mapping_name,
        dry_run=batch.dry_run,
        created_at=now,
        settings=settings,
        size_bytes=batch.size_bytes,
        status=BatchStatus.QUEUED,
    )
    db.session.add(run)
    db.session.flush()
    return run


def run_import_jobs(*, config: ConfigMapping, clock: Callable[[], datetime], limit: int = 10) -> list[int]:
    """The worker's periodic job: fail the dead runs, then run the queued ones; the ids run."""
    stale_seconds = config.get("IMPORT_STALE_SECONDS", STALE_SECONDS)
    fail_stale(now=clock(), stale_seconds=stale_seconds)
    db.session.commit()
    ran = []
    for _ in range(limit):
        batch = claim_next(now=clock())
        if batch is None:
            break
        run_claimed(batch, config=config, clock=clock)
        ran.append(batch.id)
    return ran


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def delete_old_uploads(*, folder: Path, now: datetime, retention_days: int) -> int:
    """Delete the uploaded files older than the retention period (never one a queued or running batch
    reads); their batches keep their counts and errors. How many files were deleted."""
    if not folder.is_dir():
        return 0
    cutoff = (now - timedelta(days=retention_days)).timestamp()
    in_use = set(
        db.session.scalars(
            select(ImportBatch.stored_path).where(
                ImportBatch.status.in_((BatchStatus.QUEUED, BatchStatus.RUNNING)),
                ImportBatch.stored_path.is_not(None),
            )
        )
    )
    deleted = []
    for path in folder.iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff and str(path) not in in_use:
            path.unlink(missing_ok=True)
            deleted.append(str(path))
    for start in range(0, len(deleted), 500):
        db.session.execute(
            update(ImportBatch)
            .where(ImportBatch.stored_path.in_(deleted[start : start + 500]))
            .values(stored_path=None)
            .execution_options(synchronize_session=False)
        )
    db.session.flush()
    return len(deleted)
