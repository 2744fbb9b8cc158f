"""Export 100,000 coded answers as a REFI-QDA project (`.qdpx`), beside a plain zipped CSV of the same rows.

Issue #21's target: the `.qdpx` export of 100,000 coded answers in under 30 s. The baseline (the same
answers and codings read with one query and written as a zipped CSV) is measured in the same run, so the
ratio says what the project format costs. Runs on a scratch SQLite file. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select  # noqa: E402

from app import create_app  # noqa: E402
from app.codebook.models import ReasonCode  # noqa: E402
from app.codebook.service import ensure_default_codebook  # noqa: E402
from app.coding.models import Coding, ImportedAnswer  # noqa: E402
from app.coding.qdpx import export_qdpx  # noqa: E402
from app.db_types import utcnow  # noqa: E402
from app.extensions import db  # noqa: E402
from config import TestingConfig  # noqa: E402

TARGET_SECONDS = 30.0


def _seed(answers: int) -> None:
    ensure_default_codebook()
    db.session.commit()
    code_ids = list(db.session.scalars(select(ReasonCode.id)))
    now = utcnow()
    db.session.execute(
        insert(ImportedAnswer),
        [
            {
                "id": i,
                "external_key": f"k{i}",
                "question": "Why?",
                "text": f"answer {i}: too expensive for us",
            }
            | {"created_at": now}
            for i in range(1, answers + 1)
        ],
    )
    db.session.execute(
        insert(Coding),
        [
            {
                "imported_answer_id": i,
                "reason_code_id": code_ids[i % len(code_ids)],
                "source": "import",
                "coder_key": "import:Jane",
                "coder_name": "Jane",
                "status": "confirmed",
                "confidence": 1.0,
                "created_at": now,
                "decided_at": now,
            }
            for i in range(1, answers + 1)
        ],
    )
    db.session.commit()


def _zipped_csv(path: Path) -> None:
    """The baseline: the same answers and their codes, one query, one CSV inside a zip."""
    rows = db.session.execute(
        select(ImportedAnswer.id, ImportedAnswer.text, ReasonCode.code)
        .join(Coding, Coding.imported_answer_id == ImportedAnswer.id)
        .join(ReasonCode, ReasonCode.id == Coding.reason_code_id)
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerows(rows)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("codings.csv", out.getvalue())


def _timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="qdpx-bench-"))

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{folder / 'bench.sqlite3'}"
        INSTANCE_DIR = str(folder)

    app = create_app(Config)
    rounds = []
    with app.app_context():
        db.metadata.create_all(db.engine)
        _seed(options.answers)
        for number in range(1, options.rounds + 1):
            base = _timed(lambda: _zipped_csv(folder / "base.zip"))
            ours = _timed(lambda: export_qdpx(folder / "bench.qdpx", now=utcnow()))
            db.session.rollback()
            size_mb = (folder / "bench.qdpx").stat().st_size / 1e6
            rounds.append({"round": number, "csv_s": round(base, 2), "qdpx_s": round(ours, 2), "mb": size_mb})

    seconds = [r["qdpx_s"] for r in rounds]
    ratios = [r["qdpx_s"] / r["csv_s"] for r in rounds]
    print(f"{'round':<7}{'zipped CSV s':>14}{'qdpx s':>9}{'ratio':>8}{'MB':>7}")
    for r, ratio in zip(rounds, ratios, strict=True):
        print(f"{r['round']:<7}{r['csv_s']:>14}{r['qdpx_s']:>9}{ratio:>8.2f}{r['mb']:>7.1f}")
    median = statistics.median(seconds)
    met = max(seconds) < TARGET_SECONDS
    print(
        f"qdpx export of {options.answers:,} coded answers: median {median:.1f} s "
        f"(range {min(seconds):.1f} to {max(seconds):.1f}); target < {TARGET_SECONDS:.0f} s: "
        f"{'met' if met else 'NOT met'}"
    )
    print(
        json.dumps(
            {
                "bench": "qdpx",
                "answers": options.answers,
                "qdpx_s_median": median,
                "qdpx_s_range": [min(seconds), max(seconds)],
                "ratio_to_zipped_csv_median": round(statistics.median(ratios), 2),
                "target_s": TARGET_SECONDS,
                "met": met,
            }
        )
    )


if __name__ == "__main__":
    main()
