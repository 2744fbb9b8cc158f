"""One sync run: push the deals waiting, then pull what changed through the file import's path.

Push first: the deals just created in the CRM are then read back, and linked, by the same run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.audit.service import record_event
from app.crm.importing.records import ImportSettings
from app.crm.importing.service import import_table, start_batch
from app.crm.signals import deal_pushed
from app.crm.sync.base import Connector, CrmUnavailable, PullTable, sync_mapping
from app.crm.sync.models import ConnectionStatus, CrmConnection, CrmPush
from app.extensions import db

PUSH_CHUNK = 200


@dataclass
class SyncResult:
    """The run's figures: the keys (and only these) of `flask crm sync --json`."""

    pulled: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    warnings: int = 0
    pushed: int = 0
    linked: int = 0
    batch_id: int | None = field(default=None, repr=False)
    error: str | None = field(default=None, repr=False)

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in asdict(self).items() if k not in ("batch_id", "error")}


def connection_for(source: str) -> CrmConnection:
    connection = db.session.scalar(select(CrmConnection).where(CrmConnection.crm_source == source))
    if connection is None:
        connection = CrmConnection(crm_source=source, status=ConnectionStatus.OK)
        db.session.add(connection)
        db.session.flush()
    return connection


def queue_push(winback_id: str, deal: dict[str, Any], *, now: datetime) -> CrmPush:
    """Queue (or re-queue with new values) the upsert of an accepted requalification's CRM deal."""
    push = db.session.scalar(select(CrmPush).where(CrmPush.winback_id == winback_id))
    if push is None:
        push = CrmPush(winback_id=winback_id, created_at=now)
        db.session.add(push)
    push.deal = {**deal, "winback_id": winback_id}
    push.pushed = False
    db.session.flush()
    return push


def waiting_pushes() -> list[CrmPush]:
    return list(db.session.scalars(select(CrmPush).where(CrmPush.pushed.is_(False)).order_by(CrmPush.id)))


def push_waiting(connector: Connector, *, now: datetime) -> int:
    """Upsert the waiting deals; the ones the CRM took are marked with its id, the others stay queued."""
    pushed = 0
    waiting = waiting_pushes()
    for start in range(0, len(waiting), PUSH_CHUNK):
        chunk = waiting[start : start + PUSH_CHUNK]
        by_id = {push.winback_id: push for push in chunk}
        for outcome in connector.push([push.deal for push in chunk]):
            push = by_id[outcome.winback_id]
            push.attempts += 1
            if outcome.error:
                push.last_error = outcome.error[:2000]
                continue
            push.pushed, push.crm_id, push.last_error = True, outcome.crm_id, None
            push.crm_source, push.pushed_at = connector.source, now
            pushed += 1
            record_event(
                "crm.pushed",
                "crm_push",
                push.id,
                actor_label=f"sync:{connector.source}",
                details={"winback_id": push.winback_id, "crm_id": outcome.crm_id, "created": outcome.created},
                now=now,
            )
            deal_pushed.send(connector.source, winback_id=push.winback_id, crm_id=outcome.crm_id, now=now)
        db.session.flush()
    return pushed


def pull_changes(
    connector: Connector,
    connection: CrmConnection,
    result: SyncResult,
    *,
    since: datetime | None,
    dry_run: bool,
    settings: ImportSettings,
    now: datetime,
    checkpoint: Callable[[], None] | None,
) -> None:
    """Read what changed since the mark into an import batch; move the mark on (not in a dry run)."""
    start = since or connection.high_water_mark
    batch = start_batch(
        filename=f"{connector.source} sync",
        via="sync",
        actor_label=f"sync:{connector.source}",
        settings=settings,
        dry_run=dry_run,
        now=now,
    )
    result.batch_id = batch.id
    table = PullTable(connector, start)

    def progress() -> None:
        # The history page's progress bar: the rows read of those the CRM announced.
        batch.size_bytes = max(connector.expected(), table.read)
        checkpoint()

    try:
        # bulk: a pull of any size is pages of parsed JSON, millions of short-lived objects (collector.py).
        import_table(
            batch,
            table.table,
            sync_mapping(connector),
            settings,
            now=now,
            size=0,
            checkpoint=progress if checkpoint else None,
            bulk=True,
        )
    finally:
        result.pulled = table.read
        for name in ("created", "updated", "unchanged", "failed", "warnings"):
            setattr(result, name, getattr(batch, name))
    result.linked = int((batch.settings or {}).get("linked", 0))
    batch.size_bytes = batch.bytes_read = table.read
    if table.newest and not dry_run:
        connection.high_water_mark = max(table.newest, connection.high_water_mark or table.newest)


def run_sync(
    connector: Connector,
    *,
    since: datetime | None = None,
    dry_run: bool = False,
    settings: ImportSettings | None = None,
    now: datetime,
    checkpoint: Callable[[], None] | None = None,
) -> SyncResult:
    """Push what waits, then pull what changed. A CRM that refuses us marks the connection failed."""
    connection = connection_for(connector.source)
    connection.last_run_at = now
    result = SyncResult()
    try:
        if dry_run:
            result.pushed = len(waiting_pushes())  # would be pushed: a dry run writes nothing to the CRM
        else:
            result.pushed = push_waiting(connector, now=now)
        pull_changes(
            connector,
            connection,
            result,
            since=since,
            dry_run=dry_run,
            settings=settings or ImportSettings(),
            now=now,
            checkpoint=checkpoint,
        )
    except CrmUnavailable as error:
        result.error = error.message
        connection.mark_failed(error.message, now=now)
        record_event(
            "crm.sync_failed",
            "crm_connection",
            connection.id,
            actor_label=f"sync:{connector.source}",
            details={"message": error.message},
            now=now,
        )
    else:
        connection.mark_ok(now=now)
    db.session.flush()
    return result


def sync_connections() -> list[CrmConnection]:
    """Every CRM the sync has run against, failed ones first: the imports page shows their health."""
    return list(
        db.session.scalars(select(CrmConnection).order_by(CrmConnection.status, CrmConnection.crm_source))
    )
