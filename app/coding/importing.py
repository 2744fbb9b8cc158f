"""`coding import FILE.csv`: answers coded elsewhere (a win/loss spreadsheet) as a training corpus.

Columns `text, code` and optional `id, coder, question`. Rows with the same id (without one: the same
question and text) are one answer; with `coder`, each coder's rows are that coder's codings."""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from app.auth.models import User
from app.codebook.models import ReasonCode
from app.coding.models import CoderKind, Coding, CodingStatus, ImportedAnswer
from app.extensions import db

IMPORT_CODER = "import"
# The columns' sizes (external_key is "id:" + the id, coder_key "import:" + the coder).
CELL_LIMITS = {"id": 290, "coder": 200, "question": 10_000, "text": 100_000}


@dataclass
class ImportResult:
    answers: int = 0
    codings: int = 0
    errors: list[dict[str, object]] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"answers": self.answers, "codings": self.codings, "errors": self.errors}


def _answer_key(row: dict[str, str]) -> str:
    if row.get("id"):
        return f"id:{row['id']}"
    digest = hashlib.sha256(f"{row.get('question', '')}\x00{row['text']}".encode()).hexdigest()
    return f"text:{digest}"


def _rows(reader: csv.DictReader, result: ImportResult):
    """(line, cleaned row) for each row; a row csv cannot read ends the file with an error for it."""
    line = 1
    try:
        for line, raw in enumerate(reader, start=2):  # noqa: B007 (the line is reported after the loop)
            yield (
                line,
                {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None},
            )
    except csv.Error as error:
        result.errors.append(
            {
                "line": line + 1,
                "message": f"the file cannot be read from here ({error}): a cell over "
                f"{csv.field_size_limit()} characters or a quote that is never closed; the rest was not read",
            }
        )


def _cell_problem(row: dict[str, str]) -> str | None:
    """Why the row's cells cannot be stored (empty text, NUL, too long), or None."""
    if not row.get("text"):
        return "text is empty"
    if any("\x00" in value for value in row.values()):
        return "a cell contains a NUL character"
    for column, limit in CELL_LIMITS.items():
        if len(row.get(column, "")) > limit:
            return f"{column} is longer than {limit} characters"
    return None


def import_codings(handle: io.TextIOBase, *, now: datetime) -> ImportResult:
    """Load the file's answers and codings (confirmed, source import); bad rows are reported by line."""
    reader = csv.DictReader(handle)
    header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    result = ImportResult()
    missing = [c for c in ("text", "code") if c not in header]
    if missing:
        result.errors.append({"line": 1, "message": f"missing column(s): {', '.join(missing)}"})
        return result
    codes = list(db.session.scalars(select(ReasonCode)))
    by_code = {c.code.lower(): c for c in codes}
    by_label = {c.label.strip().lower(): c for c in codes}
    users = {u.name.strip().lower(): u for u in db.session.scalars(select(User))}
    users.update({u.email.lower(): u for u in users.values()})
    answers: dict[str, ImportedAnswer] = {}
    seen_codings: set[tuple[str, int, str]] = set()
    for line, row in _rows(reader, result):
        problem = _cell_problem(row)
        code_value = row.get("code", "")
        code = by_code.get(code_value.lower()) or by_label.get(code_value.lower())
        if problem is None and code is None:
            problem = (
                "code is empty" if not code_value else f"unknown code {code_value!r} (not a code nor a label)"
            )
        if problem:
            result.errors.append({"line": line, "message": problem})
            continue
        key = _answer_key(row)
        answer = answers.get(key)
        if answer is None:
            answer = db.session.scalar(select(ImportedAnswer).where(ImportedAnswer.external_key == key))
            if answer is None:
                answer = ImportedAnswer(
                    external_key=key, question=row.get("question") or None, text=row["text"], created_at=now
                )
                db.session.add(answer)
                db.session.flush()
                result.answers += 1
            answers[key] = answer
        coder_name = row.get("coder") or ""
        user = users.get(coder_name.lower()) if coder_name else None
        coder_key = f"user:{user.id}" if user else (f"import:{coder_name}" if coder_name else IMPORT_CODER)
        if (key, code.id, coder_key) in seen_codings or db.session.scalar(
            select(func.count()).where(
                Coding.imported_answer_id == answer.id,
                Coding.reason_code_id == code.id,
                Coding.coder_key == coder_key,
            )
        ):
            seen_codings.add((key, code.id, coder_key))
            continue
        seen_codings.add((key, code.id, coder_key))
        db.session.add(
            Coding(
                imported_answer_id=answer.id,
                reason_code_id=code.id,
                source=CoderKind.IMPORT,
                coder_id=user.id if user else None,
                coder_name=None if user else (coder_name or None),
                coder_key=coder_key,
                confidence=1.0,
                status=CodingStatus.CONFIRMED,
                created_at=now,
                decided_at=now,
            )
        )
        result.codings += 1
    db.session.flush()
    return result
