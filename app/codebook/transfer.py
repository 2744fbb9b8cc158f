"""The codebook as CSV, in and out (columns code, label, definition, example, polarity, active)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select

from app.codebook.models import Polarity, ReasonCode
from app.codebook.service import CODE_PART, CSV_COLUMNS, codebook_tree
from app.downloads import GuardedCsvWriter, unguarded_cell
from app.errors import ValidationError
from app.extensions import db

# A codebook is a few hundred codes; a file past this is not one (and would be read whole into memory).
MAX_CODEBOOK_BYTES = 2 * 1024 * 1024
# The columns' sizes in the database (PostgreSQL refuses longer values; SQLite would keep them silently).
CELL_LIMITS = {"code": 120, "label": 200, "definition": 10_000, "example": 10_000}

_TRUE = {"1", "true", "yes", "y", "active", ""}
_FALSE = {"0", "false", "no", "n", "retired"}


@dataclass
class CsvResult:
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def export_codebook_csv(out: io.TextIOBase) -> int:
    """Write every code (retired ones too) in tree order; return how many."""
    writer = GuardedCsvWriter(out)
    writer.writerow(CSV_COLUMNS)
    nodes = codebook_tree()
    for node in nodes:
        c = node.code
        writer.writerow(
            [c.code, c.label, c.definition or "", c.example or "", c.polarity.value, "1" if c.active else "0"]
        )
    return len(nodes)


def codebook_text(raw: bytes) -> str:
    """The uploaded file as text, or ValidationError: too large, not UTF-8 or empty."""
    if len(raw) > MAX_CODEBOOK_BYTES:
        raise ValidationError(
            f"The file is larger than {MAX_CODEBOOK_BYTES // (1024 * 1024)} MB: a codebook is not that big."
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError("The file is not UTF-8 text: save it as CSV UTF-8 and try again.") from None
    if not text.strip():
        raise ValidationError("The file is empty: it has no header and no codes.")
    return text


def import_codebook_csv(rows: Iterable[dict[str, str]] | io.TextIOBase) -> CsvResult:
    """Add and update codes from CSV (never delete). Any bad row: report it and apply nothing."""
    result = CsvResult()
    parsed = _read_rows(rows, result)
    _check_parents(parsed, result)
    if result.errors:
        return result
    _apply(parsed, result)
    db.session.flush()
    return result


def _read_rows(rows: Iterable[dict[str, str]] | io.TextIOBase, result: CsvResult) -> list[tuple[int, dict]]:
    """The rows that pass their own checks; the others' errors go to `result`."""
    reader = csv.DictReader(rows, strict=True) if isinstance(rows, io.TextIOBase) else rows
    parsed: list[tuple[int, dict]] = []
    seen: dict[str, int] = {}
    line = 1
    try:
        header_error = _header_error(reader)
        if header_error:
            result.errors.append((1, header_error))
            return []
        for line, raw_row in enumerate(reader, start=2):  # noqa: B007 (the line is reported after the loop)
            row = _clean(raw_row)
            error = _row_error(row) or _duplicate_error(row["code"], seen, line)
            if error:
                result.errors.append((line, error))
            else:
                parsed.append((line, row))
    except csv.Error as error:  # an unterminated quote swallows the rest of the file
        result.errors.append((line + 1, f"the file cannot be read as CSV here ({error}): check the quotes"))
    if not parsed and not result.errors:
        result.errors.append((2, "the file has a header but no codes"))
    return parsed


def _header_error(reader: Iterable[dict[str, str]]) -> str | None:
    if not isinstance(reader, csv.DictReader):
        return None  # rows given as dictionaries: their keys are checked row by row
    if reader.fieldnames is None:
        return "the file is empty: it has no header and no codes"
    names = [(h or "").strip().lower() for h in reader.fieldnames]
    missing = [c for c in ("code", "label") if c not in names]
    return f"missing column(s): {', '.join(missing)}" if missing else None


def _clean(raw_row: dict) -> dict[str, str]:
    # A cell the export guarded against formulas ('=...) comes back as it was.
    return {
        (k or "").strip().lower(): unguarded_cell((v if isinstance(v, str) else "").strip())
        for k, v in raw_row.items()
    }


def _row_error(row: dict[str, str]) -> str | None:
    code = row["code"] = row.get("code", "").lower()
    if not code:
        return "code is empty"
    if any("\x00" in value for value in row.values()):
        return f"code {code[:40]}: a cell contains a NUL character"
    for column, limit in CELL_LIMITS.items():
        if len(row.get(column, "")) > limit:
            return f"code {code[:40]}: {column} is longer than {limit} characters"
    if not all(CODE_PART.fullmatch(part) for part in code.split(".")):
        return f"code {code!r}: use lower-case letters, digits, _ and dots"
    if not row.get("label"):
        return f"code {code}: label is empty"
    if row.get("polarity", "loss").lower() not in {p.value for p in Polarity} | {""}:
        return f"code {code}: polarity must be loss, win or both"
    if row.get("active", "").lower() not in _TRUE | _FALSE:
        return f"code {code}: active must be 1 or 0"
    return None


def _duplicate_error(code: str, seen: dict[str, int], line: int) -> str | None:
    if code in seen:
        return f"code {code} is already on line {seen[code]}"
    seen[code] = line
    return None


def _check_parents(parsed: list[tuple[int, dict]], result: CsvResult) -> None:
    known = {c for c in db.session.scalars(select(ReasonCode.code))} | {r["code"] for _, r in parsed}
    for line, row in parsed:
        parent = row["code"].rsplit(".", 1)[0] if "." in row["code"] else None
        if parent and parent not in known:
            result.errors.append((line, f"code {row['code']}: its parent {parent} is not in the codebook"))


def _apply(parsed: list[tuple[int, dict]], result: CsvResult) -> None:
    """Create or update each row's code, parents before children."""
    existing = {c.code: c for c in db.session.scalars(select(ReasonCode))}
    for _, row in sorted(parsed, key=lambda item: item[1]["code"].count(".")):
        code = row["code"]
        values = {
            "label": row["label"],
            "definition": row.get("definition") or None,
            "example": row.get("example") or None,
            "polarity": Polarity(row.get("polarity", "").lower() or "loss"),
            "active": row.get("active", "").lower() not in _FALSE,
        }
        reason = existing.get(code)
        if reason is None:
            parent = existing.get(code.rsplit(".", 1)[0]) if "." in code else None
            reason = ReasonCode(code=code, parent=parent, **values)
            db.session.add(reason)
            existing[code] = reason
            result.created += 1
        elif any(getattr(reason, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(reason, key, value)
            result.updated += 1
