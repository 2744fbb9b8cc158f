"""One table of every bench target: `make bench` runs each bench, keeps its output, then runs this.

    .venv/bin/python bench/summary.py DIR    # DIR holds <name>_bench.out, each bench's output

Each bench prints its own table and, last, one JSON line; this reads those lines and prints one row per
target (figure, range over rounds, target, met or NOT MET), then one JSON line of all of them, last.
A bench whose output is missing or has no JSON line shows as not run.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

Row = dict


def _row(bench: str, target: str, figure, limit: float, *, at_most: bool, spread=None, unit: str = "") -> Row:
    met = figure is not None and (figure <= limit if at_most else figure >= limit)
    return {
        "bench": bench,
        "target": target,
        "figure": figure,
        "range": list(spread) if spread else None,
        "goal": f"{'<=' if at_most else '>='} {limit:g}{unit}",
        "met": met,
    }


def _import(data: dict) -> Iterator[Row]:
    for r in data["results"]:
        db, each = r["database"], r.get("first_over_baseline_each_round") or []
        spread = (min(each), max(each)) if each else None
        yield _row(
            "import",
            f"{db}: first import / bare insert",
            r["first_over_baseline"],
            2.0,
            at_most=True,
            spread=spread,
        )
        yield _row("import", f"{db}: re-import / first import", r["reimport_over_first"], 0.3, at_most=True)
    if "rss_mb_big" in data:
        yield _row(
            "import",
            f"peak RSS at {data['big_rows']:,} rows",
            data["rss_mb_big"],
            300,
            at_most=True,
            unit=" MB",
        )
    else:
        yield _row("import", "peak RSS (small run)", data["rss_mb_small"], 300, at_most=True, unit=" MB")


def _outbox(data: dict) -> Iterator[Row]:
    for workers, goal in ((1, 0.6), (2, 1.0)):
        key = f"workers_{workers}_ratio"
        yield _row(
            "outbox",
            f"{workers} worker(s) / bare smtplib loop",
            data[key],
            goal,
            at_most=False,
            spread=data.get(f"{key}_range"),
        )


def _survey(data: dict) -> Iterator[Row]:
    labels = {
        "hello_over_bare": "app hello / bare Flask hello",
        "get_over_bare": "survey GET / bare Flask hello",
        "post_over_hello": "survey POST / app hello",
    }
    for name, r in data["ratios"].items():
        yield _row(
            "survey", labels.get(name, name), r["ratio"], r["target"], at_most=False, spread=r["range"]
        )


def _coding(data: dict) -> Iterator[Row]:
    for name in ("train", "suggest", "suggest_rules"):
        spread = (data[f"{name}_ratio_min"], data[f"{name}_ratio_max"])
        yield _row("coding", f"{name} / baseline", data[f"{name}_ratio"], 1.5, at_most=True, spread=spread)
    yield _row("coding", "confirm + next, p95", data["next_post_p95_ms"], 100, at_most=True, unit=" ms")
    yield _row("coding", "next answer page, p95", data["next_get_p95_ms"], 100, at_most=True, unit=" ms")


def _crm_sync(data: dict) -> Iterator[Row]:
    for r in data["results"]:
        yield _row("crm_sync", f"{r['database']}: sync / file import", r["sync_over_file"], 1.5, at_most=True)
    yield _row("crm_sync", "peak RSS", data["rss_mb"], 300, at_most=True, unit=" MB")


def _enroll(data: dict) -> Iterator[Row]:
    for run in data["runs"]:
        yield _row(
            "enroll",
            f"{run['database']}: enrollment",
            run["enroll_s"],
            data["target_s"],
            at_most=True,
            unit=" s",
        )


def _qdpx(data: dict) -> Iterator[Row]:
    yield _row(
        "qdpx",
        "export (slowest round)",
        data["qdpx_s_range"][1],
        data["target_s"],
        at_most=True,
        spread=data["qdpx_s_range"],
        unit=" s",
    )


def _queue(data: dict) -> Iterator[Row]:
    pg, targets = data["postgresql"], data["targets"]
    yield _row(
        "queue", "postgresql: claim p95", pg["queue"]["p95_ms"], targets["p95_ms"], at_most=True, unit=" ms"
    )
    yield _row("queue", "postgresql: claim / bare claim", pg["ratio"], targets["ratio"], at_most=False)
    for backend in ("postgresql", "sqlite"):
        doubles = data[backend]["queue"]["double_assignments"]
        yield _row("queue", f"{backend}: double assignments", doubles, 0, at_most=True)
    desk = pg.get("desk")
    if desk:
        yield _row(
            "queue",
            "postgresql: desk sequence p95",
            desk["p95_ms_median"],
            150,
            at_most=True,
            spread=desk["p95_ms_range"],
            unit=" ms",
        )
        yield _row(
            "queue",
            "postgresql: desk / bare + render",
            desk["ratio_median"],
            0.3,
            at_most=False,
            spread=desk["ratio_range"],
        )


def _report(data: dict) -> Iterator[Row]:
    for name, page in data["pages"].items():
        spread = (page["ratio_min"], page["ratio_max"]) if page["ratio_min"] is not None else None
        yield _row(
            "report",
            f"{data['backend']}: {name} p95 / baseline",
            page["ratio_p95"],
            3,
            at_most=True,
            spread=spread,
        )
        if data["backend"] == "postgresql":
            yield _row("report", f"postgresql: {name} p95", page["p95_ms"], 500, at_most=True, unit=" ms")


def _sqlite_limits(data: dict) -> Iterator[Row]:
    busy = data["respondents_during_enrollment"]
    yield _row("sqlite_limits", "respondent 5xx during enrollment", busy["errors_5xx"], 0, at_most=True)


READERS: dict[str, Callable[[dict], Iterator[Row]]] = {
    "import": _import,
    "outbox": _outbox,
    "survey": _survey,
    "coding": _coding,
    "crm_sync": _crm_sync,
    "enroll": _enroll,
    "qdpx": _qdpx,
    "queue": _queue,
    "report": _report,
    "sqlite_limits": _sqlite_limits,
}


def last_json(path: Path) -> dict | None:
    """The last line of a bench's output that is a JSON object (None when there is none)."""
    if not path.exists():
        return None
    for line in reversed(path.read_text(errors="replace").splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                return None
    return None


def rows_of(folder: Path) -> list[Row]:
    rows: list[Row] = []
    for name, read in READERS.items():
        data = last_json(folder / f"{name}_bench.out")
        if data is None:
            rows.append(
                {
                    "bench": name,
                    "target": "(not run)",
                    "figure": None,
                    "range": None,
                    "goal": "",
                    "met": False,
                }
            )
            continue
        try:
            rows.extend(read(data))
        except (KeyError, TypeError, IndexError) as error:
            rows.append(
                {
                    "bench": name,
                    "target": f"(unreadable: {error!r})",
                    "figure": None,
                    "range": None,
                    "goal": "",
                    "met": False,
                }
            )
    return rows


def _shown(value) -> str:
    return "-" if value is None else f"{value:g}" if isinstance(value, float | int) else str(value)


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    rows = rows_of(folder)
    print()
    print(f"{'bench':<15}{'target':<44}{'figure':>10}{'range':>16}{'goal':>12}  result")
    for r in rows:
        spread = f"{_shown(r['range'][0])} to {_shown(r['range'][1])}" if r["range"] else ""
        result = "met" if r["met"] else ("-" if r["figure"] is None else "NOT MET")
        print(
            f"{r['bench']:<15}{r['target']:<44}{_shown(r['figure']):>10}{spread:>16}{r['goal']:>12}  {result}"
        )
    met = sum(r["met"] for r in rows)
    print(f"{met} of {len(rows)} targets met")
    print(json.dumps({"bench": "summary", "met": met, "targets": len(rows), "rows": rows}))


if __name__ == "__main__":
    main()
