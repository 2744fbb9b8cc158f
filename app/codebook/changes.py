"""Merge and retire, asked first and undoable: what they will change (counted before), the audit event
that records what they did, and the undo within 24 hours that reads it back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.audit.models import AuditEvent
from app.audit.service import record_event
from app.codebook.models import ReasonCode
from app.codebook.service import (
    check_merge,
    code_references,
    merge_codes,
    move_code,
    reference_name,
    retire_code,
)
from app.codebook.signals import codes_merge_preview, codes_unmerged
from app.db_types import UTCDateTime
from app.errors import Conflict, NotFound
from app.extensions import db

if TYPE_CHECKING:
    from app.auth.models import User

UNDO_WINDOW = timedelta(hours=24)
MERGED, RETIRED = "codebook.merged", "codebook.retired"
# Readable names of the core tables that point at a code (higher layers name their own in the preview).
TABLE_LABELS = {
    "survey_options": "survey options remapped",
    "loss_reason_mappings": "CRM loss reasons remapped",
}


@dataclass(frozen=True)
class Impact:
    """One line of a preview: what will change, and how many."""

    label: str
    count: int


def merge_preview(loser: ReasonCode, survivor: ReasonCode) -> list[Impact]:
    """What merging `loser` into `survivor` will change, counted the way the merge will change it."""
    check_merge(loser, survivor)
    covered: set[str] = set()
    children = _count(ReasonCode.__table__, ReasonCode.parent_id == loser.id)
    lines = [Impact(f"sub-codes moved under {survivor.code}", children)]
    for _, result in codes_merge_preview.send(loser, survivor=survivor):
        covered |= set(result["tables"])
        lines += [Impact(label, count) for label, count in result["lines"]]
    for column in code_references():
        table = column.class_.__table__
        if table.name not in covered:
            label = TABLE_LABELS.get(table.name, f"{table.name} rows moved")
            lines.append(Impact(label, _count(table, column == loser.id)))
    return lines


def retire_preview(code: ReasonCode) -> list[Impact]:
    """What retiring a code changes: it leaves every picker and stops being suggested; history stays."""
    lines = []
    for _, result in codes_merge_preview.send(code, survivor=None):
        lines += [Impact(label, count) for label, count in result["lines"]]
    return lines


def _count(table, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(table).where(*where)) or 0


# --- acting, recorded for undo ----------------------------------------------------------------------------


def merge_recorded(loser: ReasonCode, survivor: ReasonCode, *, actor: User, now: datetime) -> AuditEvent:
    """Merge, and record in the audit trail everything needed to undo it."""
    snapshot = merge_codes(loser, survivor)
    snapshot["codes"] = {"loser": loser.code, "survivor": survivor.code}
    return record_event(MERGED, "reason_code", loser.id, actor=actor, details=snapshot, now=now)


def retire_recorded(code: ReasonCode, *, actor: User, now: datetime) -> AuditEvent:
    retire_code(code)
    return record_event(RETIRED, "reason_code", code.id, actor=actor, details={"code": code.code}, now=now)


def undoable_events(code: ReasonCode, *, now: datetime) -> list[AuditEvent]:
    """This code's merges and retirements of the last 24 hours that were not undone."""
    events = db.session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.action.in_((MERGED, RETIRED)),
            AuditEvent.entity_type == "reason_code",
            AuditEvent.entity_id == code.id,
            AuditEvent.at >= now - UNDO_WINDOW,
        )
        .order_by(AuditEvent.at.desc())
    )
    return [e for e in events if not e.details.get("undone_at")]


def undo(event: AuditEvent, *, actor: User, now: datetime) -> ReasonCode:
    """Undo a merge or a retirement recorded less than 24 hours ago; returns the code brought back."""
    if event.action not in (MERGED, RETIRED) or event.entity_type != "reason_code":
        raise NotFound("There is no merge or retirement to undo here")
    if event.details.get("undone_at"):
        raise Conflict("This change was already undone")
    if now - event.at > UNDO_WINDOW:
        raise Conflict("Changes can be undone for 24 hours only")
    code = db.session.get(ReasonCode, event.entity_id)
    if code is None:
        raise NotFound("That reason code no longer exists")
    try:
        with db.session.begin_nested():
            if event.action == MERGED:
                _undo_merge(code, event.details)
            else:
                code.active = True
            db.session.flush()
    except IntegrityError:
        raise Conflict("The codes were used since: this change can no longer be undone") from None
    event.details = {**event.details, "undone_at": now.isoformat(), "undone_by": actor.id}
    record_event(
        event.action + "_undone", "reason_code", code.id, actor=actor, details={"event": event.id}, now=now
    )
    db.session.flush()
    return code


def _undo_merge(loser: ReasonCode, details: dict[str, Any]) -> None:
    survivor = db.session.get(ReasonCode, details["survivor"])
    columns = {reference_name(c): c for c in code_references()}
    for name, ids in details["moved"].items():
        column = columns[name]
        key = list(column.class_.__table__.primary_key.columns)[0]
        db.session.execute(
            update(column.class_).where(key.in_(ids)).values({column.key: loser.id}),
            execution_options={"synchronize_session": False},
        )
    for entry in details["removed"]:
        table = db.metadata.tables[entry["table"]]
        db.session.execute(insert(table).values(_restored(table, entry["row"])))
    for child in db.session.scalars(select(ReasonCode).where(ReasonCode.id.in_(details["children"]))):
        move_code(child, loser)
    loser.active = details.get("was_active", True)
    db.session.flush()
    db.session.expire_all()
    codes_unmerged.send(loser, survivor=survivor)


def snapshot_row(table, row) -> dict[str, Any]:
    """A row as JSON values (timestamps as ISO text), to put back with `_restored`."""
    values = {}
    for column in table.columns:
        value = row[column.name]
        values[column.name] = value.isoformat() if isinstance(value, datetime) else value
    return {"table": table.name, "row": values}


def _restored(table, values: dict[str, Any]) -> dict[str, Any]:
    restored = {}
    for column in table.columns:
        value = values.get(column.name)
        if isinstance(value, str) and isinstance(column.type, UTCDateTime):
            value = datetime.fromisoformat(value)
        restored[column.name] = value
    return restored
