"""Import benchmark: first import and re-import of a Salesforce-style export against a bare Core insert.

Prints a table and, as the last line, one JSON object. Targets: first/baseline <= 2.0,
re-import/first <= 0.3, peak RSS < 300 MB at 100k and at 1M rows (each in a subprocess of its own).
SQLite always; PostgreSQL too when DATABASE_URL points at one: the bench works in a database of its own
on that server (<name>_bench), which it creates and drops.
Set BENCH_ROWS / BENCH_BIG_ROWS to change the sizes (defaults 100000 and 1000000; 0 skips the 1M run) and
BENCH_ROUNDS the number of rounds per database (default 5; the figures are the rounds' medians).
"""

from __future__ import annotations

import csv
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.databases import bench_database_url, recreate_database  # noqa: E402

HEADER = [
    "Opportunity ID",
    "Opportunity Name",
    "Account ID",
    "Account Name",
    "Industry",
    "Stage",
    "Amount",
    "Close Date",
    "Opportunity Owner",
    "Closed Lost Reason",
    "Competitor",
    "Contact ID",
    "First Name",
    "Last Name",
    "Email",
    "Phone",
]
STAGES = ("Closed Lost", "Closed Won", "Negotiation", "Proposal")
REASONS = ("Price", "Timing", "Lost to Competitor", "Missing Features", "")
COMPETITORS = ("Northwind", "Contoso", "Globex Data", "Initech", "")


def generate(path: Path, rows: int, seed: int = 7) -> Path:
    rng = random.Random(seed)
    start = date(2025, 1, 1)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for n in range(rows):
            account = n // 4
            writer.writerow(
                [
                    f"006B{n:011d}",
                    f"Deal {n}",
                    f"001B{account:010d}",
                    f"Account {account}",
                    "retail",
                    rng.choice(STAGES),
                    f"${rng.randint(500, 90000):,}.00",
                    (start + timedelta(days=n % 700)).strftime("%m/%d/%Y"),
                    f"Owner {n % 30}",
                    rng.choice(REASONS),
                    rng.choice(COMPETITORS),
                    f"003B{account:010d}",
                    "Pat",
                    f"Doe{account}",
                    f"pat{account}@acct{account}.example",
                    f"+1415555{account % 10000:04d}",
                ]
            )
    return path


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_app(url: str):
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app import create_app
    from app.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": False})
    with app.app_context():
        if url.startswith("postgresql"):
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        upgrade(revision="heads")
    return app


def import_once(app, path: Path) -> tuple[float, dict]:
    from app.crm.importing.formats import mapping_for
    from app.crm.importing.records import ImportSettings
    from app.crm.importing.service import run_import, start_batch
    from app.extensions import db

    now = datetime.now(UTC)
    with app.app_context():
        began = time.perf_counter()
        batch = start_batch(filename=path.name, via="cli", actor_label="bench", now=now)
        db.session.commit()
        run_import(
            batch,
            path,
            mapping_for("salesforce", HEADER),
            ImportSettings(),
            now=now,
            checkpoint=db.session.commit,
        )
        db.session.commit()
        elapsed = time.perf_counter() - began
        counts = {k: getattr(batch, k) for k in ("created", "updated", "unchanged", "failed")}
        db.session.remove()
    return elapsed, counts


def baseline(app, path: Path) -> float:
    """Read the same file and insert its rows with a bare Core executemany into a table of the same shape."""
    from sqlalchemy import Table, insert

    from app.crm.models import Opportunity
    from app.extensions import db

    with app.app_context():
        table = Table(
            "bench_baseline",
            db.metadata,
            *(c._copy() for c in Opportunity.__table__.columns if not c.foreign_keys),
            extend_existing=True,
        )
        table.drop(db.engine, checkfirst=True)
        table.create(db.engine)
        began = time.perf_counter()
        with db.engine.begin() as connection, path.open(newline="") as handle:
            reader = csv.reader(handle)
            next(reader)
            chunk = []
            now = datetime.now(UTC)
            for cells in reader:
                chunk.append(
                    {
                        "crm_source": "salesforce",
                        "crm_id": cells[0],
                        "name": cells[1],
                        "stage": cells[5],
                        "amount": cells[6].strip("$").replace(",", ""),
                        "currency": "USD",
                        "close_date": datetime.strptime(cells[7], "%m/%d/%Y").date(),
                        "owner": cells[8],
                        "is_closed": cells[5].startswith("Closed"),
                        "is_won": cells[5] == "Closed Won",
                        "crm_loss_reason": cells[9],
                        "competitor_raw": cells[10],
                        "raw": {},
                        "origin": "crm",
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                if len(chunk) >= 2000:
                    connection.execute(insert(table), chunk)
                    chunk = []
            if chunk:
                connection.execute(insert(table), chunk)
        elapsed = time.perf_counter() - began
        table.drop(db.engine)
        db.metadata.remove(table)
    return elapsed


def measure_rss(rows: int, url: str | None) -> float:
    """Import a file of `rows` rows in a fresh process; return its peak RSS in MB."""
    output = subprocess.run(
        [sys.executable, __file__, "--rss", str(rows), *([url] if url else [])],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(output.strip().splitlines()[-1])


def rss_child(rows: int, url: str | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = generate(Path(folder) / "big.csv", rows)
        app = make_app(url or f"sqlite:///{folder}/rss.sqlite3")
        import_once(app, path)
    print(f"{rss_mb():.1f}")


def run_round(url: str, path: Path, rows: int) -> tuple[float, float, float]:
    """One round in a fresh process, as a CLI import runs: (baseline, first import, re-import) seconds.

    A process of its own per round: the import's per-process caches (parsed phones, e-mails, dates)
    would otherwise make every round after the first a warm one.
    """
    output = subprocess.run(
        [sys.executable, __file__, "--round", str(path), str(rows), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return tuple(json.loads(output.strip().splitlines()[-1]))


def round_child(path: Path, rows: int, url: str) -> None:
    app = make_app(url)
    base = baseline(app, path)
    first, first_counts = import_once(app, path)
    second, second_counts = import_once(app, path)
    assert first_counts["created"] == rows, first_counts
    assert second_counts["unchanged"] == rows, second_counts
    print(json.dumps([base, first, second]))


def run_database(label: str, urls: list[str], path: Path, rows: int) -> dict:
    """A round per URL, each on an emptied database; the figures are the medians of the rounds' figures.

    The machine is shared and noisy: one round's ratio can be off by 15% either way.
    """
    results = [run_round(url, path, rows) for url in urls]
    rounds = len(urls)
    base, first, second = (statistics.median(column) for column in zip(*results, strict=True))
    return {
        "database": label,
        "rows": rows,
        "rounds": rounds,
        "baseline_s": round(base, 2),
        "first_import_s": round(first, 2),
        "reimport_s": round(second, 2),
        "first_over_baseline": round(statistics.median(f / b for b, f, _ in results), 2),
        "reimport_over_first": round(statistics.median(s / f for _, f, s in results), 2),
        "first_over_baseline_each_round": [round(f / b, 2) for b, f, _ in results],
    }


def main() -> None:
    rows = int(os.environ.get("BENCH_ROWS", "100000"))
    big = int(os.environ.get("BENCH_BIG_ROWS", "1000000"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "5"))
    pg = os.environ.get("DATABASE_URL", "")
    pg = bench_database_url("import_bench", pg) if pg.startswith("postgresql") else ""
    results = []
    with tempfile.TemporaryDirectory() as folder:
        path = generate(Path(folder) / "export.csv", rows)
        sqlite_urls = [f"sqlite:///{folder}/bench{n}.sqlite3" for n in range(rounds)]
        results.append(run_database("sqlite", sqlite_urls, path, rows))
        if pg:
            recreate_database(pg)
            try:
                results.append(run_database("postgresql", [pg] * rounds, path, rows))
            finally:
                recreate_database(pg, drop_only=True)
    memory = {"rss_mb_small": measure_rss(rows, None)}
    if big:
        memory["rss_mb_big"] = measure_rss(big, None)
        memory["big_rows"] = big
    print(
        f"{'database':<11}{'rows':>9}{'baseline s':>12}{'first s':>10}{'re-import s':>13}"
        f"{'first/base':>12}{'re/first':>10}"
    )
    for r in results:
        print(
            f"{r['database']:<11}{r['rows']:>9}{r['baseline_s']:>12}{r['first_import_s']:>10}"
            f"{r['reimport_s']:>13}{r['first_over_baseline']:>12}{r['reimport_over_first']:>10}"
        )
    print("targets: first/base <= 2.0, re/first <= 0.3, peak RSS < 300 MB")
    print(
        f"peak RSS: {memory['rss_mb_small']:.0f} MB at {rows} rows"
        + (f", {memory['rss_mb_big']:.0f} MB at {big} rows" if big else "")
    )
    print(json.dumps({"results": results, **memory}))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--rss":
        rss_child(int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
    elif len(sys.argv) > 4 and sys.argv[1] == "--round":
        round_child(Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    else:
        main()
