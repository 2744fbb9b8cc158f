"""Import a CRM export file: stream it, clean each row, upsert in batches, record what failed and why."""

from __future__ import annotations

import csv
import hashlib
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
from app.crm.importing.collector import relaxed_collector
from app.crm.importing.formats import FORMAT_CHOICES, Mapping, detect_format, mapping_for
from app.crm.importing.models import BatchStatus, ImportBatch, ImportMapping, ImportRowError, Severity
from app.crm.importing.parsing import Table, UnreadableFile, open_table
from app.crm.importing.records import AccountIn, ImportSettings, Record, RowErrors, RowReader
from app.crm.importing.upsert import Upserter
from app.crm.signals import opportunities_imported
from app.downloads import CSV_BOM
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


def _key_fingerprint(crm_id: str) -> int:
    """64 bits that tell the file's keys apart: hash() is a keyed SipHash, stable within one process."""
    return hash(crm_id)


def _warning(line: int, cells: list[str], warnings: list) -> dict:
    """One row imported with values left out, as a row of the error file marked as a warning."""
    return {
        "line": line,
        "column": warnings[0].field,
        "message": "; ".join(w.message for w in warnings),
        "raw": cells,
        "severity": Severity.WARNING,
    }


def _row_fingerprint(signature: bytes, cells: list[str]) -> str:
    return hashlib.blake2b(signature + "\x1f".join(cells).encode(), digest_size=16).hexdigest()


def _signature(mapping: Mapping, settings: ImportSettings) -> bytes:
    """What besides the row decides the stored values: a mapping or setting change re-imports every row."""
    parts = (
        sorted(mapping.columns.items()),
        mapping.lost_stages,
        mapping.won_stages,
        mapping.key,
        mapping.key_columns,
        vars(settings),
    )
    return repr(parts).encode()


def _batches(
    table: Table, mapping: Mapping, settings: ImportSettings, size: int, upserter: Upserter
) -> Iterator[tuple[list[Record], list[dict], int]]:
    """Clean rows in batches: (records to upsert, errors, rows skipped as unchanged).

    A row whose raw cells hash to the stored import hash is unchanged and is not even parsed: this is
    what makes a re-import fast. Duplicates of an earlier row of the file are reported.
    """
    seen: set[int] = set()  # 8-byte fingerprints: bounded memory even for a million rows
    signature = _signature(mapping, settings)
    id_spec = mapping.columns.get("crm_id", "")
    id_index = table.header.index(id_spec) if mapping.key == "id" and id_spec in table.header else None
    chunk: list = []
    reader = RowReader(table.header, mapping, settings)

    def flush(rows) -> tuple[list[Record], list[dict], int]:
        records, errors, skipped = [], [], 0
        fingerprints = [_row_fingerprint(signature, row.cells) for row in rows]
        stored = {}
        if id_index is not None:
            ids = {row.cells[id_index] for row in rows if len(row.cells) > id_index and row.cells[id_index]}
            stored = upserter.stored_hashes(ids)
        for row, fingerprint in zip(rows, fingerprints, strict=True):
            if id_index is not None and len(row.cells) > id_index:
                crm_id = row.cells[id_index]
                if crm_id and stored.get(crm_id) == fingerprint:
                    key = _key_fingerprint(crm_id)
                    if key not in seen:
                        seen.add(key)
                        skipped += 1
                        continue
            try:
                record = reader.read(row.cells)
            except RowErrors as error:
                errors.append(
                    {"line": row.line, "column": error.field, "message": error.message, "raw": row.cells}
                )
                continue
            key = _key_fingerprint(record.crm_id)
            if key in seen:
                shown = record.crm_id.removeprefix("nk:")
                errors.append(
                    {
                        "line": row.line,
                        "column": mapping.columns.get("crm_id"),
                        "raw": row.cells,
                        "message": f"'{shown}' is in this file twice; only its first row counts",
                    }
                )
                continue
            seen.add(key)
            record.fingerprint = fingerprint
            records.append(record)
            if record.warnings:
                errors.append(_warning(row.line, row.cells, record.warnings))
        return records, errors, skipped

    for row in table.rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield flush(chunk)
            chunk = []
    if chunk:
        yield flush(chunk)


def _account_batches(
    table: Table, mapping: Mapping, settings: ImportSettings, size: int
) -> Iterator[tuple[list[AccountIn], list[dict], int]]:
    """The rows of an account file, cleaned in batches: (accounts, errors, 0). Duplicates are reported."""
    reader = RowReader(table.header, mapping, settings)
    seen: set[int] = set()
    accounts: list[AccountIn] = []
    errors: list[dict] = []
    for row in table.rows:
        try:
            account = reader.read_account(row.cells)
        except RowErrors as error:
            errors.append(
                {"line": row.line, "column": error.field, "message": error.message, "raw": row.cells}
            )
        else:
            key = _key_fingerprint(account.crm_id)
            if key in seen:
                shown = account.crm_id.removeprefix("name:")
                message = f"Account '{shown}' is in this file twice; only its first row counts"
                column = mapping.columns.get("account_crm_id") or mapping.columns.get("account_name")
                errors.append({"line": row.line, "column": column, "message": message, "raw": row.cells})
            else:
                seen.add(key)
                accounts.append(account)
                if reader.warnings:
                    errors.append(_warning(row.line, row.cells, reader.warnings))
        if len(accounts) + len(errors) >= size:
            yield accounts, errors, 0
            accounts, errors = [], []
    if accounts or errors:
        yield accounts, errors, 0


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
    try:
        table = open_table(path)
    except UnreadableFile as error:
        batch.status = BatchStatus.FAILED
        batch.message = error.message
        batch.finished_at = now
        db.session.flush()
        raise
    batch.header = table.header
    batch.format = mapping.format
    batch.mapping_name = mapping.name
    batch.crm_source = mapping.crm_source
    batch.settings = {**(batch.settings or {}), "target": mapping.target}
    batch.size_bytes = Path(path).stat().st_size
    batch.status = BatchStatus.RUNNING
    db.session.flush()
    counts = {"created": 0, "updated": 0, "unchanged": 0, "failed": 0, "warnings": 0, "rows_read": 0}
    upserter = Upserter(
        mapping.crm_source,
        now=now,
        actor_label=batch.actor_label or "import",
        batch_id=batch.id,
        want_ids=False,
    )
    # Fresh tables have no statistics (or stale ones) until autovacuum comes by: refresh them each time
    # the rows written double, so the later batches are planned for the tables' real size.
    analyze_at = batch_rows
    lost_keys: list[str] = []  # the lost deals the file adds or changes: active campaigns may pick them up
    matches = MatchTally()
    if mapping.for_accounts:
        batches = _account_batches(table, mapping, settings, batch_rows)
        upsert = upserter.upsert_accounts
    else:
        batches = _batches(table, mapping, settings, batch_rows, upserter)

        def upsert(records: list[Record]) -> list[str]:
            lost_keys.extend(r.crm_id for r in records if r.is_closed and not r.is_won)
            return [outcome.status for outcome in upserter.upsert(records)]

    savepoint = None
    # A large file means millions of short-lived objects: see collector.py.
    with relaxed_collector() if batch.size_bytes > BULK_BYTES else nullcontext():
        try:
            for items, errors, skipped in batches:
                savepoint = db.session.begin_nested() if batch.dry_run else None
                counts["unchanged"] += skipped
                counts["rows_read"] += skipped
                for status in upsert(items) if items else []:
                    counts[status] += 1
                if savepoint is not None:
                    # Matched while the batch's deals are still there, then rolled back.
                    matches.add(campaign_matches(mapping.crm_source, lost_keys, now=now))
                    lost_keys.clear()
                    savepoint.rollback()
                    upserter.forget_written()
                warned = sum(1 for e in errors if e.get("severity") is Severity.WARNING)
                counts["failed"] += len(errors) - warned
                counts["warnings"] += warned
                counts["rows_read"] += len(items) + len(errors) - warned
                if errors:
                    _save_row_errors(batch, errors)
                for name, value in counts.items():
                    setattr(batch, name, value)
                batch.bytes_read = table.position()
                db.session.flush()
                if checkpoint:
                    checkpoint()
                    written = counts["created"] + counts["updated"]
                    if written >= analyze_at and not batch.dry_run:
                        refresh_statistics()
                        analyze_at = 2 * written
        except UnreadableFile as error:
            if savepoint is not None and savepoint.is_active:
                savepoint.rollback()
            batch.status = BatchStatus.FAILED
            batch.message = (
                f"{error.message} (rows before it were imported)" if not batch.dry_run else error.message
            )
            batch.finished_at = now
            db.session.flush()
            raise
        finally:
            table.close()
    matches.add(campaign_matches(mapping.crm_source, lost_keys, now=now))
    batch.settings = {**(batch.settings or {}), "campaign_matches": matches.to_json()}
    for name, value in counts.items():
        setattr(batch, name, value)
    batch.bytes_read = batch.size_bytes or 0
    if table.footer_message:
        batch.message = table.footer_message
    batch.status = BatchStatus.DONE
    batch.finished_at = now
    if not batch.dry_run:
        record_event(
            "import.finished",
            "import_batch",
            batch.id,
            actor_label=batch.actor_label,
            details={k: counts[k] for k in ("created", "updated", "unchanged", "failed", "warnings")},
            now=now,
        )
    db.session.flush()
    if not batch.dry_run and not mapping.for_accounts:
        opportunities_imported.send(mapping.crm_source, now=now)
    return batch


class MatchTally:
    """Campaign matches added up over the batches of a dry run: counts summed, the first deals kept."""

    def __init__(self) -> None:
        self.by_campaign: dict[int, dict] = {}

    def add(self, found) -> None:
        for match in found:
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
    out.write(CSV_BOM)
    writer = csv.writer(out)
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
