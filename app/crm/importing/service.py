"""Import a CRM export file: stream it, clean each row, upsert in batches, record what failed and why."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import insert, select

from app.audit.service import record_event
from app.crm.importing.bulk import refresh_statistics
from app.crm.importing.campaign_matches import SHOWN_DEALS, campaign_matches
from app.crm.importing.cleaning import account_batches, record_batches
from app.crm.importing.collector import relaxed_collector
from app.crm.importing.formats import FORMAT_CHOICES, Mapping, detect_format, mapping_for
from app.crm.importing.models import BatchStatus, ImportBatch, ImportMapping, ImportRowError, Severity
from app.crm.importing.parsing import Table, UnreadableFile, open_table
from app.crm.importing.records import AccountIn, ImportSettings, Record, RowErrors, RowReader
from app.crm.importing.upsert import Upserter
from app.crm.signals import opportunities_imported
from app.downloads import GuardedCsvWriter
from app.errors import NotFound, ValidationError
from app.extensions import db

BATCH_ROWS = 2000
BULK_BYTES = 1_000_000  # from this file size on, the garbage collector is relaxed during the import
PREVIEW_ROWS = 10
ERROR_TABLE = ImportRowError.__table__


def load_mapping(name: str) -> ImportMapping:
    mapping = db.session.scalar(select(ImportMapping).where(ImportMapping.name == name))
    if mapping is None:
        raise NotFound(f"There is no saved mapping named '{name}'")
    return mapping


def saved_mapping(saved: ImportMapping) -> Mapping:
    settings = saved.settings or {}
    mapping = Mapping(
        format=settings.get("format", "generic"),
        columns=dict(saved.columns),
        key=settings.get("key", "id"),
        key_columns=list(settings.get("key_columns", [])),
        name=saved.name,
        target=settings.get("target", "opportunities"),
    )
    if saved.lost_stages:
        mapping.lost_stages = list(saved.lost_stages)
    if saved.won_stages:
        mapping.won_stages = list(saved.won_stages)
    return mapping


def save_mapping(name: str, mapping: Mapping, settings: ImportSettings, *, crm_source: str) -> ImportMapping:
    """Create or replace the saved mapping called name."""
    saved = db.session.scalar(select(ImportMapping).where(ImportMapping.name == name))
    if saved is None:
        saved = ImportMapping(name=name)
        db.session.add(saved)
    saved.columns = {k: v for k, v in mapping.columns.items() if v}
    saved.lost_stages = list(mapping.lost_stages)
    saved.won_stages = list(mapping.won_stages)
    saved.settings = {
        "format": mapping.format,
        "key": mapping.key,
        "key_columns": mapping.key_columns,
        "target": mapping.target,
        "crm_source": crm_source,
        "day_first": settings.day_first,
        "default_country": settings.default_country,
        "default_currency": settings.default_currency,
    }
    db.session.flush()
    return saved


def choose_mapping(header: list[str], format_name: str | None, mapping_name: str | None) -> Mapping:
    """The mapping to read a file with: a saved one by name, else the format's (detected when not given)."""
    if mapping_name:
        return saved_mapping(load_mapping(mapping_name))
    if format_name and format_name not in (*FORMAT_CHOICES, "salesforce_api"):
        raise ValidationError(f"Unknown format '{format_name}'", field="format")
    name = format_name or detect_format(header)
    if name == "salesforce" or (name == "salesforce_api"):
        name = "salesforce"
    return mapping_for(name, header)


@dataclass
class PreviewRow:
    line: int
    record: Record | AccountIn | None  # an account when the file's rows are accounts
    error: str | None
    warning: str | None = None  # values the import will leave out of this row


@dataclass
class Preview:
    header: list[str]
    mapping: Mapping
    rows: list[PreviewRow]
    encoding: str
    delimiter: str | None

    @property
    def needs_natural_key(self) -> bool:
        return self.mapping.key == "id" and not self.mapping.has_id_column()


def preview_file(
    path: str | Path,
    mapping: Mapping | None,
    settings: ImportSettings,
    *,
    format_name: str | None = None,
    limit: int = PREVIEW_ROWS,
) -> Preview:
    """The first rows as the import would store them (nothing is written)."""
    table = open_table(path)
    try:
        mapping = mapping or choose_mapping(table.header, format_name, None)
        reader = RowReader(table.header, mapping, settings)
        read = reader.read_account if mapping.for_accounts else reader.read
        rows = []
        for row in table.rows:
            try:
                record = read(row.cells)
                warning = "; ".join(w.message for w in reader.warnings) or None
                rows.append(PreviewRow(row.line, record, None, warning))
            except RowErrors as error:
                rows.append(PreviewRow(row.line, None, error.message))
            if len(rows) >= limit:
                break
        return Preview(table.header, mapping, rows, table.encoding, table.delimiter)
    finally:
        table.close()


def start_batch(
    *,
    filename: str | None,
    via: str,
    actor_label: str,
    user_id: int | None = None,
    stored_path: str | None = None,
    format_name: str | None = None,
    mapping_name: str | None = None,
    settings: ImportSettings | None = None,
    dry_run: bool = False,
    now: datetime,
) -> ImportBatch:
    settings = settings or ImportSettings()
    batch = ImportBatch(
        filename=filename,
        via=via,
        actor_label=actor_label,
        user_id=user_id,
        stored_path=stored_path,
        format=format_name,
        mapping_name=mapping_name,
        dry_run=dry_run,
        created_at=now,
        settings={
            "day_first": settings.day_first,
            "default_country": settings.default_country,
            "default_currency": settings.default_currency,
        },
    )
    db.session.add(batch)
    db.session.flush()
    return batch


def run_import(
    batch: ImportBatch,
    path: str | Path,
    mapping: Mapping,
    settings: ImportSettings,
    *,
    now: datetime,
    checkpoint: Callable[[], None] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> ImportBatch:
    """Import the file into batch. Raise UnreadableFile if nothing of it can be read.

    checkpoint is called after each batch of rows (the CLI and the import job commit there, so progress
    and the heartbeat show, and a long import holds no lock for long). A dry run writes each batch of rows
    in a savepoint and rolls it back, keeping only the counts, the errors and the campaign matches: the
    rows of a file are unique, so its counts are those of the import.
    """
    table = _open_or_fail(batch, path, now=now)
    size = Path(path).stat().st_size
    return import_table(
        batch, table, mapping, settings, now=now, checkpoint=checkpoint, batch_rows=batch_rows, size=size
    )


def import_table(
    batch: ImportBatch,
    table: Table,
    mapping: Mapping,
    settings: ImportSettings,
    *,
    now: datetime,
    size: int,
    checkpoint: Callable[[], None] | None = None,
    batch_rows: int = BATCH_ROWS,
    bulk: bool | None = None,
) -> ImportBatch:
    """Import the rows of table (a file's, or a CRM's read through its API) into batch.

    size is what table.position() counts up to (bytes of a file, rows of an API pull), for the progress
    bar; bulk relaxes the garbage collector (by default when a file is large). An UnreadableFile raised by
    the rows fails the batch, keeping the rows before it, and is raised again.
    """
    _mark_running(batch, table, mapping, size)
    run = _ImportRun(batch, mapping, now=now, batch_rows=batch_rows)
    batches = run.batches(table, settings)
    # A large file means millions of short-lived objects: see collector.py.
    with relaxed_collector() if (size > BULK_BYTES if bulk is None else bulk) else nullcontext():
        try:
            for items, errors, skipped in batches:
                run.apply(items, errors, skipped)
                batch.bytes_read = table.position()
                db.session.flush()
                if checkpoint:
                    checkpoint()
                    run.refresh_statistics_when_doubled()
        except UnreadableFile as error:
            run.fail(error)
            raise
        finally:
            table.close()
    run.finish(table)
    return batch


def _open_or_fail(batch: ImportBatch, path: str | Path, *, now: datetime) -> Table:
    """The file's table; a file that cannot be read at all fails the batch, and UnreadableFile is raised."""
    try:
        return open_table(path)
    except UnreadableFile as error:
        batch.move_to(BatchStatus.FAILED, message=error.message, finished_at=now)
        db.session.flush()
        raise


def _mark_running(batch: ImportBatch, table: Table, mapping: Mapping, size: int) -> None:
    batch.header = table.header
    batch.format = mapping.format
    batch.mapping_name = mapping.name
    batch.crm_source = mapping.crm_source
    batch.settings = {**(batch.settings or {}), "target": mapping.target}
    batch.size_bytes = size
    batch.move_to(BatchStatus.RUNNING)
    db.session.flush()


class _ImportRun:
    """One import under way: its counts, its upserter, the lost deals it touched and, in a dry run, the
    savepoint of the batch of rows being written."""

    def __init__(self, batch: ImportBatch, mapping: Mapping, *, now: datetime, batch_rows: int) -> None:
        self.batch = batch
        self.mapping = mapping
        self.now = now
        self.batch_rows = batch_rows
        self.counts = {"created": 0, "updated": 0, "unchanged": 0, "failed": 0, "warnings": 0, "rows_read": 0}
        self.upserter = Upserter(
            mapping.crm_source,
            now=now,
            actor_label=batch.actor_label or "import",
            batch_id=batch.id,
            want_ids=False,
        )
        # Fresh tables have no statistics (or stale ones) until autovacuum comes by: refresh them each time
        # the rows written double, so the later batches are planned for the tables' real size.
        self.analyze_at = batch_rows
        self.lost_keys: list[str] = []  # this batch's lost deals (added or changed): campaigns may take them
        self.matches = MatchTally()
        self.savepoint = None

    def batches(self, table: Table, settings: ImportSettings) -> Iterator[tuple[list, list[dict], int]]:
        if self.mapping.for_accounts:
            return account_batches(table, self.mapping, settings, self.batch_rows)
        return record_batches(table, self.mapping, settings, self.batch_rows, self.upserter)

    def _upsert(self, items: list) -> list[str]:
        if self.mapping.for_accounts:
            return self.upserter.upsert_accounts(items)
        self.lost_keys.extend(r.crm_id for r in items if r.status == "lost")
        return [outcome.status for outcome in self.upserter.upsert(items)]

    def apply(self, items: list, errors: list[dict], skipped: int) -> None:
        """Write one batch of rows (in a savepoint rolled back for a dry run) and count what happened."""
        counts = self.counts
        self.savepoint = db.session.begin_nested() if self.batch.dry_run else None
        counts["unchanged"] += skipped
        counts["rows_read"] += skipped
        for status in self._upsert(items) if items else []:
            counts[status] += 1
        # Matched batch by batch (in a dry run while the batch's deals are still there, before the rollback),
        # so a file of a million deals never holds all its keys at once.
        self.matches.add(campaign_matches(self.mapping.crm_source, self.lost_keys, now=self.now))
        self.lost_keys.clear()
        if self.savepoint is not None:
            self.savepoint.rollback()
            self.upserter.forget_written()
        warned = sum(1 for e in errors if e.get("severity") is Severity.WARNING)
        counts["failed"] += len(errors) - warned
        counts["warnings"] += warned
        counts["rows_read"] += len(items) + len(errors) - warned
        if errors:
            _save_row_errors(self.batch, errors)
        self._store_counts()

    def _store_counts(self) -> None:
        for name, value in self.counts.items():
            setattr(self.batch, name, value)

    def refresh_statistics_when_doubled(self) -> None:
        written = self.counts["created"] + self.counts["updated"]
        if written >= self.analyze_at and not self.batch.dry_run:
            refresh_statistics()
            self.analyze_at = 2 * written

    def fail(self, error: UnreadableFile) -> None:
        """The file became unreadable part way: the rows before it stay imported (none in a dry run)."""
        if self.savepoint is not None and self.savepoint.is_active:
            self.savepoint.rollback()
        batch = self.batch
        batch.move_to(
            BatchStatus.FAILED,
            message=f"{error.message} (rows before it were imported)" if not batch.dry_run else error.message,
            finished_at=self.now,
        )
        db.session.flush()

    def finish(self, table: Table) -> None:
        """The batch is done: its counts, campaign matches and audit event; listeners hear of the deals."""
        batch, mapping, now = self.batch, self.mapping, self.now
        batch.settings = {
            **(batch.settings or {}),
            "campaign_matches": self.matches.to_json(),
            "campaign_matched_deals": self.matches.deals,
        }
        self._store_counts()
        batch.bytes_read = batch.size_bytes or 0
        if table.footer_message:
            batch.message = table.footer_message
        batch.move_to(BatchStatus.DONE, finished_at=now)
        if not batch.dry_run:
            record_event(
                "import.finished",
                "import_batch",
                batch.id,
                actor_label=batch.actor_label,
                details={
                    k: self.counts[k] for k in ("created", "updated", "unchanged", "failed", "warnings")
                },
                now=now,
            )
        db.session.flush()
        if not batch.dry_run and not mapping.for_accounts:
            answers = opportunities_imported.send(mapping.crm_source, now=now)
            # A listener may answer how many recycled deals it linked (the pipeline does): the history says.
            linked = sum(answer for _, answer in answers if isinstance(answer, int))
            batch.settings = {**batch.settings, "linked": linked}
            db.session.flush()


class MatchTally:
    """Campaign matches added up over the batches of an import: counts summed per campaign (a deal is in one
    batch only: a file's second row of a deal fails), the first deals kept, and the distinct deals of the
    file counted once."""

    def __init__(self) -> None:
        self.by_campaign: dict[int, dict] = {}
        self.keys: set[str] = set()

    @property
    def deals(self) -> int:
        return len(self.keys)

    def add(self, found) -> None:
        for match in found:
            self.keys.update(match.keys)
            blank = {**match.to_json(), "count": 0, "deals": []}
            entry = self.by_campaign.setdefault(match.campaign_id, blank)
            entry["count"] += match.count
            entry["deals"] = (entry["deals"] + match.deals)[:SHOWN_DEALS]

    def to_json(self) -> list[dict]:
        return sorted(self.by_campaign.values(), key=lambda m: m["campaign"])


COLUMN_LENGTH = ERROR_TABLE.c.column.type.length


def _save_row_errors(batch: ImportBatch, errors: list[dict]) -> None:
    rows = [{"batch_id": batch.id, "severity": Severity.ERROR, **e} for e in errors]
    for row in rows:
        if row["column"] and len(row["column"]) > COLUMN_LENGTH:  # a header cell can be any length
            row["column"] = row["column"][: COLUMN_LENGTH - 1] + "…"
    db.session.execute(insert(ERROR_TABLE), rows)


def error_file(batch: ImportBatch) -> str:
    """The failed rows as they came, plus an `error` column: fix them and upload this file again.

    Rows imported with a warning come too, marked as such: uploading them again fills in what was left
    out. The text starts with a UTF-8 byte order mark, so that Excel reads accented names right.
    """
    out = io.StringIO()
    writer = GuardedCsvWriter(out)
    writer.writerow([*batch.header, "error"])
    rows = db.session.execute(
        select(ImportRowError.raw, ImportRowError.line, ImportRowError.message, ImportRowError.severity)
        .where(ImportRowError.batch_id == batch.id)
        .order_by(ImportRowError.line)
    )
    width = len(batch.header)
    for raw, line, message, severity in rows:
        cells = list(raw)[:width] + [""] * (width - len(raw))
        mark = " (warning: the row was imported)" if severity is Severity.WARNING else ""
        writer.writerow([*cells, f"line {line}{mark}: {message}"])
    return out.getvalue()
