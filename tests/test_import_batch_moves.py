"""Every change of an import batch's status goes through the model: `ImportBatch.move_to` for one batch,
`ImportBatch.guarded_move` for the worker's claim in SQL. A scan of the code finds no other writer."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from app.crm.importing.models import BATCH_TRANSITIONS, BatchStatus, ImportBatch, InvalidBatchMove

ROOT = Path(__file__).resolve().parents[1]


def test_a_finished_batch_never_moves_again():
    for finished in (BatchStatus.DONE, BatchStatus.FAILED):
        batch = ImportBatch(status=finished)
        for target in BatchStatus:
            with pytest.raises(InvalidBatchMove):
                batch.move_to(target)
        assert batch.status is finished


def test_every_allowed_move_is_made_with_its_values_and_every_other_refused():
    for source, targets in BATCH_TRANSITIONS.items():
        for target in BatchStatus:
            batch = ImportBatch(status=source)
            if target in targets:
                batch.move_to(target, message="moved")
                assert (batch.status, batch.message) == (target, "moved")
                ImportBatch.guarded_move(1, source, target)  # builds the statement
            else:
                with pytest.raises(InvalidBatchMove):
                    batch.move_to(target, message="moved")
                with pytest.raises(InvalidBatchMove):
                    ImportBatch.guarded_move(1, source, target)
                assert (batch.status, batch.message) == (source, None)


def test_the_claim_statement_is_guarded_by_the_source_status():
    sql = str(ImportBatch.guarded_move(7, BatchStatus.QUEUED, BatchStatus.RUNNING).compile())
    assert "import_batches.status = :status_1" in sql
    assert "import_batches.id = :id_1" in sql


def _status_writes(path: Path) -> list[str]:
    """Places in `path` that assign a `.status` from BatchStatus, or set `status=` in an UPDATE of
    import_batches."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if _assigns_a_status(node) or _updates_a_batch_status(node):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def _assigns_a_status(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Assign)
        and "BatchStatus" in ast.unparse(node.value)
        and any(isinstance(target, ast.Attribute) and target.attr == "status" for target in node.targets)
    )


def _updates_a_batch_status(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "values"
        and "update(ImportBatch)" in ast.unparse(node)
        and any(keyword.arg == "status" for keyword in node.keywords)
    )


def test_the_scan_finds_a_direct_write():
    probe = ROOT / "tests" / "_probe_status_write.py"
    probe.write_text(
        "batch.status = BatchStatus.DONE\n"
        "update(ImportBatch).where(ImportBatch.id == 1).values(status=BatchStatus.DONE)\n"
    )
    try:
        assert len(_status_writes(probe)) == 2
    finally:
        probe.unlink()


def test_no_module_writes_a_batch_status_itself():
    model = ROOT / "app" / "crm" / "importing" / "models.py"
    writers = []
    for package in ("app", "campaigns", "surveys"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path != model:
                writers += _status_writes(path)
    assert writers == []
