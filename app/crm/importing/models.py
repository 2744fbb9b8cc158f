"""Import batches and their failed rows, saved column mappings."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, Update, update
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db_types import UTCDateTime, str_enum, utcnow
from app.extensions import db


class BatchStatus(enum.StrEnum):
    DRAFT = "draft"  # uploaded, waiting for the admin to check the mapping
    QUEUED = "queued"  # a dry run or an import waiting for `flask worker` to claim it
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # the file could not be read at all


# Every change of a batch's status goes through these moves: one batch at a time by `move_to`, or in
# SQL by `guarded_move` (the worker's claim, atomic on SQLite too). A finished batch never runs again:
# running it again makes a new batch.
BATCH_TRANSITIONS: dict[BatchStatus, frozenset[BatchStatus]] = {
    BatchStatus.DRAFT: frozenset({BatchStatus.QUEUED, BatchStatus.RUNNING, BatchStatus.FAILED}),
    BatchStatus.QUEUED: frozenset({BatchStatus.RUNNING, BatchStatus.FAILED}),
    BatchStatus.RUNNING: frozenset({BatchStatus.RUNNING, BatchStatus.DONE, BatchStatus.FAILED}),
    BatchStatus.DONE: frozenset(),
    BatchStatus.FAILED: frozenset(),
}


class InvalidBatchMove(ValueError):
    """A status change BATCH_TRANSITIONS does not allow: a bug in the caller, never user input."""


def check_batch_move(source: BatchStatus, target: BatchStatus) -> None:
    if target not in BATCH_TRANSITIONS[source]:
        raise InvalidBatchMove(f"A {source.value} import cannot become {target.value}")


class ImportBatch(db.Model):
    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_label: Mapped[str | None] = mapped_column(String(120))  # "cli", "api:<token>", "demo"
    via: Mapped[str] = mapped_column(String(16), default="ui")  # ui, cli, api, demo
    filename: Mapped[str | None] = mapped_column(String(255))
    stored_path: Mapped[str | None] = mapped_column(String(500))  # the upload, kept for background runs
    format: Mapped[str | None] = mapped_column(String(32))
    mapping_name: Mapped[str | None] = mapped_column(String(120))
    crm_source: Mapped[str] = mapped_column(String(32), default="salesforce")
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    header: Mapped[list[str]] = mapped_column(JSON, default=list)  # for the error file
    dry_run: Mapped[bool] = mapped_column(default=False)
    status: Mapped[BatchStatus] = mapped_column(str_enum(BatchStatus, 16), default=BatchStatus.DRAFT)
    message: Mapped[str | None] = mapped_column(Text)
    # Written by the process running the batch after each batch of rows: a running batch whose
    # heartbeat stops was left by a process that died, and is marked failed (it can be run again).
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    size_bytes: Mapped[int | None]
    bytes_read: Mapped[int] = mapped_column(default=0)
    rows_read: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    # rows imported with the value of an optional column left out
    warnings: Mapped[int] = mapped_column(default=0, server_default="0")

    errors: Mapped[list[ImportRowError]] = relationship(
        back_populates="batch", order_by="ImportRowError.line", cascade="all, delete-orphan"
    )

    def move_to(self, target: BatchStatus, **values: Any) -> None:
        """Change this batch's status (and the given columns with it); refuses a move not allowed."""
        check_batch_move(self.status or BatchStatus.DRAFT, target)
        self.status = target
        for name, value in values.items():
            setattr(self, name, value)

    @classmethod
    def guarded_move(cls, batch_id: int, source: BatchStatus, target: BatchStatus, **values: Any) -> Update:
        """`UPDATE import_batches SET status = target, **values WHERE id = batch_id AND status = source`:
        its rowcount says whether this process made the move (two workers never both do)."""
        check_batch_move(source, target)
        return (
            update(cls)
            .where(cls.id == batch_id, cls.status == source)
            .values(status=target, **values)
            .execution_options(synchronize_session=False)
        )

    @property
    def target(self) -> str:
        """What the file's rows were: opportunities, or accounts (an account file)."""
        return (self.settings or {}).get("target", "opportunities")

    @property
    def progress_percent(self) -> int:
        if self.status is BatchStatus.DONE:
            return 100
        if self.status is BatchStatus.QUEUED:
            return 0
        if not self.size_bytes:
            return 0
        return min(99, int(100 * self.bytes_read / self.size_bytes))

    def __repr__(self) -> str:
        return f"<ImportBatch {self.id} {self.status}>"


class Severity(enum.StrEnum):
    ERROR = "error"  # the row was not imported
    WARNING = "warning"  # the row was imported, with the value of an optional column left out


class ImportRowError(db.Model):
    """A row of a file that failed, or that was imported with a warning."""

    __tablename__ = "import_row_errors"
    __table_args__ = (Index("ix_import_row_errors_batch_line", "batch_id", "line"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batches.id", ondelete="CASCADE"))
    line: Mapped[int]  # line of the file where the row starts (the header is line 1)
    column: Mapped[str | None] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(Text)
    raw: Mapped[list[str]] = mapped_column(JSON, default=list)  # the original cells, for the error file
    severity: Mapped[Severity] = mapped_column(
        str_enum(Severity, 16), default=Severity.ERROR, server_default=Severity.ERROR.value
    )

    @property
    def is_warning(self) -> bool:
        return self.severity is Severity.WARNING

    batch: Mapped[ImportBatch] = relationship(back_populates="errors")


class ImportMapping(db.Model):
    """A saved column mapping for a generic CSV/XLSX, reused by name (`--mapping NAME`)."""

    __tablename__ = "import_mappings"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    # field -> column header, or a template with {Column} placeholders, or "=constant".
    columns: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    lost_stages: Mapped[list[str]] = mapped_column(JSON, default=list)
    won_stages: Mapped[list[str]] = mapped_column(JSON, default=list)
    # crm_source, day_first, default_country, currency, key ("id", "natural" or "columns"), key_columns
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
