"""Call queue claims: 100,000 tasks across 10 campaigns, 20 callers claiming and completing at once on
PostgreSQL (4 callers on SQLite), against a bare `SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1` + `UPDATE`
on a table with only an id and a status, measured in the same run with the same callers and claims.

    .venv/bin/python bench/queue_bench.py [--tasks 100000] [--claims 4000] [--callers 20] [--sqlite-callers 4]

Each caller (a thread with its own connection) loops: claim the next task through `claim_next_task`
(commit; the task id is read before the commit, as `/calls/next` does), then complete it (one UPDATE
by id to status done, commit, as the baseline does). Latency is the claim alone, commit included; the
throughput counts claims per second over the whole run. Double assignments are counted from the ids
every caller got (must be 0).

PostgreSQL: DATABASE_URL (or postgresql+psycopg://postgres@127.0.0.1:5432/winback_calls); the bench works
in its own database (<name>_bench), which it creates and drops. SQLite: a file in a temporary folder.
Targets: p95 <= 25 ms, throughput >= 0.3x the baseline. The last line is one JSON object.

The desk run (PostgreSQL, after the claims; `--only desk` runs it alone): disposition to next task, as a
caller's screen does it. Each of 20 callers (a thread, its own signed-in client) posts a disposition
(*not interested*) to `/calls/tasks/<id>/disposition`, which records it, claims the next task (the 307 to
`/calls/next`) and renders that task's page: one sequence, timed from the post to the page. The baseline,
same callers and count: UPDATE the previous row to done, SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1 +
UPDATE, and a minimal Jinja render. Baseline and app alternate for `--desk-rounds` rounds; the ratio
(sequences per second, app / baseline) is given per round, as a median and a range. The views read the
real clock: before the desk run every contact is moved to a time zone where it is day now, with a
number that carries no zone of its own. Targets: p95 < 150 ms, >= 0.3x the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime
from datetime import time as clock
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import bindparam, insert, text  # noqa: E402

from bench.databases import bench_database_url, recreate_database  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/winback_calls"
NOW = datetime(2026, 11, 18, 17, 0, tzinfo=UTC)  # a Wednesday: noon in New York
PHONES = ("+1212555{:04d}", "+1312555{:04d}", "+1303555{:04d}", "+1415555{:04d}")  # four US zones
CAMPAIGNS = 10


def _config(url: str, callers: int) -> dict:
    return {
        "SQLALCHEMY_DATABASE_URI": url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": callers + 2, "max_overflow": 4},
        "SECRET_KEY": "bench",
        "TESTING": False,
        "WINBACK_DISABLE_WORKER_THREAD": True,
        # The desk run signs callers in and posts forms from a test client: no CSRF token, no rate limit.
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
    }


def _populate(db, tasks: int, callers: int) -> list[int]:
    """Accounts, contacts, lost deals, 10 active campaigns with every caller, enrollments and tasks."""
    from app.auth.models import Role, User
    from app.crm.models import Account, Contact, Opportunity
    from campaigns.calls.hours import zone_key
    from campaigns.calls.models import CallTask, TimeZoneSet
    from campaigns.models import Campaign, CampaignKind, CampaignStatus, Enrollment, campaign_callers

    users = [
        {
            "email": f"caller{n}@bench.example",
            "name": f"Caller {n}",
            "password_hash": "x",
            "role": Role.CALLER,
            "timezone": "UTC",
            "active": True,
            "created_at": NOW,
        }
        for n in range(callers)
    ]
    db.session.execute(insert(User), users)
    db.session.execute(
        insert(Campaign),
        [
            {
                "name": f"Bench calls {n}",
                "kind": CampaignKind.CALL,
                "status": CampaignStatus.ACTIVE,
                "calling_window_start": clock(9, 0),
                "calling_window_end": clock(17, 0),
            }
            for n in range(CAMPAIGNS)
        ],
    )
    user_ids = [row[0] for row in db.session.execute(text("SELECT id FROM users ORDER BY id"))]
    campaign_ids = [row[0] for row in db.session.execute(text("SELECT id FROM campaigns ORDER BY id"))]
    db.session.execute(
        insert(campaign_callers), [{"campaign_id": c, "user_id": u} for c in campaign_ids for u in user_ids]
    )
    zone_ids = []
    for plan in PHONES:
        zone_set = TimeZoneSet(zones=zone_key(plan.format(1), None))
        db.session.add(zone_set)
        db.session.flush()
        zone_ids.append(zone_set.id)
    accounts = max(tasks // 100, 1)
    db.session.execute(
        insert(Account),
        [
            {
                "crm_source": "bench",
                "crm_id": f"A{n}",
                "name": f"Account {n}",
                "created_at": NOW,
                "updated_at": NOW,
            }
            for n in range(accounts)
        ],
    )
    first_account = db.session.execute(text("SELECT min(id) FROM accounts")).scalar()
    batch = 10_000
    for start in range(0, tasks, batch):
        numbers = range(start, min(start + batch, tasks))
        db.session.execute(
            insert(Contact),
            [
                {
                    "account_id": first_account + n % accounts,
                    "crm_id": f"C{n}",
                    "first_name": "Pat",
                    "last_name": f"Bench{n}",
                    "phone": PHONES[n % 4].format(n % 10_000),
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for n in numbers
            ],
        )
        db.session.execute(
            insert(Opportunity),
            [
                {
                    "crm_source": "bench",
                    "crm_id": f"O{n}",
                    "account_id": first_account + n % accounts,
                    "name": f"Deal {n}",
                    "amount": 1000 + (n * 7919) % 200_000,
                    "currency": "USD",
                    "stage": "Closed Lost",
                    "is_closed": True,
                    "is_won": False,
                    "close_date": date(2026, 10, 1),
                    "raw": {},
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for n in numbers
            ],
        )
    first_contact = db.session.execute(text("SELECT min(id) FROM contacts")).scalar()
    first_opportunity = db.session.execute(text("SELECT min(id) FROM opportunities")).scalar()
    for start in range(0, tasks, batch):
        numbers = range(start, min(start + batch, tasks))
        db.session.execute(
            insert(Enrollment),
            [
                {
                    "campaign_id": campaign_ids[n % CAMPAIGNS],
                    "opportunity_id": first_opportunity + n,
                    "contact_id": first_contact + n,
                    "status": "active",
                    "enrolled_at": NOW,
                }
                for n in numbers
            ],
        )
    first_enrollment = db.session.execute(text("SELECT min(id) FROM enrollments")).scalar()
    for start in range(0, tasks, batch):
        numbers = range(start, min(start + batch, tasks))
        db.session.execute(
            insert(CallTask),
            [
                {
                    "campaign_id": campaign_ids[n % CAMPAIGNS],
                    "enrollment_id": first_enrollment + n,
                    "contact_id": first_contact + n,
                    "status": "ready",
                    "priority": (n * 7919) % 200_000,
                    "due_at": NOW,
                    "attempts": 0,
                    "zone_set_id": zone_ids[n % 4],
                    "created_at": NOW,
                }
                for n in numbers
            ],
        )
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    return user_ids


def _run(workers: list, claims: int) -> dict:
    """Start the callers together; each runs `work(quota) -> (ids, latencies)` until the quota is done."""
    per_worker = claims // len(workers)
    results: list[tuple[list[int], list[float]]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(workers) + 1)

    def run(work) -> None:
        try:
            barrier.wait()
            outcome = work(per_worker)
            with lock:
                results.append(outcome)
        except BaseException as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    threads = [threading.Thread(target=run, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    ids = [task_id for got, _ in results for task_id in got]
    latencies = sorted(latency for _, lat in results for latency in lat)
    counts = Counter(ids)
    return {
        "claims": len(ids),
        "per_s": round(len(ids) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 2),
        "double_assignments": sum(1 for n in counts.values() if n > 1),
    }


def _app_worker(app, user_id: int):
    def work(quota: int):
        from sqlalchemy import update

        from app.auth.models import User
        from app.extensions import db
        from campaigns.calls.models import CallTask, TaskStatus
        from campaigns.calls.queue import claim_cache, claim_next_task

        ids, latencies = [], []
        cache = claim_cache(app)
        done = (
            update(CallTask.__table__)
            .where(CallTask.__table__.c.id == bindparam("task_id"))
            .values(status=TaskStatus.DONE, leased_by_id=None, lease_expires_at=None, closed_at=NOW)
        )
        with app.app_context():
            user = db.session.get(User, user_id)
            for _ in range(quota):
                start = time.perf_counter()
                task = claim_next_task(user, now=NOW, cache=cache)
                task_id = task.id if task is not None else None  # as /calls/next: before the commit
                db.session.commit()
                latencies.append(time.perf_counter() - start)
                if task_id is None:
                    break
                ids.append(task_id)
                # Completing: one UPDATE by id, as the baseline does (dispositions do more, elsewhere).
                db.session.execute(done, {"task_id": task_id})
                db.session.commit()
            db.session.remove()
        return ids, latencies

    return work


def _baseline_worker(engine, postgresql: bool):
    lock_clause = " FOR UPDATE SKIP LOCKED" if postgresql else ""

    def work(quota: int):
        ids, latencies = [], []
        with engine.connect() as connection:
            for _ in range(quota):
                start = time.perf_counter()
                with connection.begin():
                    if postgresql:
                        task_id = connection.execute(
                            text(f"SELECT id FROM bare_tasks WHERE status = 'ready' LIMIT 1{lock_clause}")
                        ).scalar()
                        if task_id is not None:
                            connection.execute(
                                text("UPDATE bare_tasks SET status = 'leased' WHERE id = :id"),
                                {"id": task_id},
                            )
                    else:  # SQLite: the same claim as one compare-and-set statement
                        task_id = connection.execute(
                            text(
                                "UPDATE bare_tasks SET status = 'leased' WHERE id = (SELECT id FROM "
                                "bare_tasks WHERE status = 'ready' LIMIT 1) AND status = 'ready' RETURNING id"
                            )
                        ).scalar()
                latencies.append(time.perf_counter() - start)
                if task_id is None:
                    break
                ids.append(task_id)
                with connection.begin():
                    connection.execute(
                        text("UPDATE bare_tasks SET status = 'done' WHERE id = :id"), {"id": task_id}
                    )
        return ids, latencies

    return work


# ------------------------------------------------------------------------------------------ desk run

DESK_PASSWORD = "bench-desk-password"  # noqa: S105
MINIMAL_PAGE = "<!doctype html><title>Call: {{ name }}</title><h1>{{ name }}</h1><p>Task {{ task_id }}</p>"


def _open_zone() -> str:
    """A fixed-offset zone where it is now between 11:00 and 17:00 (calling hours for a few hours)."""
    from zoneinfo import ZoneInfo

    now = datetime.now(UTC)
    for offset in range(-12, 13):
        name = f"Etc/GMT{'+' if offset <= 0 else '-'}{abs(offset)}"
        if 11 <= now.astimezone(ZoneInfo(name)).hour < 17:
            return name
    raise SystemExit("no open zone")


def _prepare_desk(db) -> None:
    """Every ready task's contact callable now by the real clock; the callers able to sign in."""
    from werkzeug.security import generate_password_hash

    from campaigns.calls.hours import zone_key
    from campaigns.calls.models import TimeZoneSet

    zone = _open_zone()
    zone_set = TimeZoneSet(zones=zone_key(None, zone))
    db.session.add(zone_set)
    db.session.flush()
    db.session.execute(
        text("UPDATE contacts SET timezone = :zone, phone = '+1555' || lpad(id::text, 7, '0')"),
        {"zone": zone},
    )
    db.session.execute(
        text("UPDATE call_tasks SET zone_set_id = :zone_set WHERE status = 'ready'"),
        {"zone_set": zone_set.id},
    )
    db.session.execute(
        text(
            "UPDATE campaigns SET calling_window_start = '08:00', calling_window_end = '21:00', "
            "calling_days = '[0, 1, 2, 3, 4, 5, 6]', call_max_attempts = 6, call_max_per_day = 3"
        )
    )
    password_hash = generate_password_hash(DESK_PASSWORD, method="pbkdf2:sha256:1000")
    db.session.execute(text("UPDATE users SET password_hash = :hash"), {"hash": password_hash})
    db.session.execute(
        text(
            "UPDATE call_tasks SET status = 'ready', leased_by_id = NULL, leased_at = NULL, "
            "lease_expires_at = NULL WHERE status = 'leased'"
        )
    )
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()


def _desk_app_worker(app, email: str, failures: list):
    def work(quota: int):
        client = app.test_client()
        response = client.post("/login", data={"email": email, "password": DESK_PASSWORD})
        if response.status_code != 302:
            raise SystemExit(f"bench caller could not sign in: {response.status_code}")
        location = client.post("/calls/next").headers.get("Location", "")
        ids, latencies = [], []
        for _ in range(quota):
            if "/calls/tasks/" not in location:
                failures.append(f"no task held ({location})")
                break
            task_id = int(location.rsplit("/", 1)[1])
            start = time.perf_counter()
            response = client.post(
                f"/calls/tasks/{task_id}/disposition",
                data={"disposition": "not_interested", "notes": "bench"},
                follow_redirects=True,
            )
            latencies.append(time.perf_counter() - start)
            page = response.get_data(as_text=True)
            if response.status_code != 200 or "<title>Call:" not in page:
                failures.append(f"sequence ended on {response.request.path} ({response.status_code})")
                break
            ids.append(task_id)
            location = response.request.path
        return ids, latencies

    return work


def _desk_baseline_worker(app, engine):
    template = app.jinja_env.from_string(MINIMAL_PAGE)

    def claim(connection):
        with connection.begin():
            task_id = connection.execute(
                text("SELECT id FROM bare_tasks WHERE status = 'ready' LIMIT 1 FOR UPDATE SKIP LOCKED")
            ).scalar()
            if task_id is not None:
                connection.execute(
                    text("UPDATE bare_tasks SET status = 'leased' WHERE id = :id"), {"id": task_id}
                )
        return task_id

    def work(quota: int):
        ids, latencies = [], []
        with engine.connect() as connection:
            task_id = claim(connection)
            for _ in range(quota):
                start = time.perf_counter()
                with connection.begin():  # the disposition: the held row is done
                    connection.execute(
                        text("UPDATE bare_tasks SET status = 'done' WHERE id = :id"), {"id": task_id}
                    )
                task_id = claim(connection)
                page = template.render(name=f"Pat Bench{task_id}", task_id=task_id)
                latencies.append(time.perf_counter() - start)
                if task_id is None or not page:
                    break
                ids.append(task_id)
        return ids, latencies

    return work


def _desk(app, db, *, callers: int, per_caller: int, rounds: int) -> dict:
    emails = [
        row[0]
        for row in db.session.execute(text("SELECT email FROM users WHERE role = 'caller' ORDER BY id"))
    ]
    emails = emails[:callers]
    db.session.remove()
    sequences = per_caller * len(emails)
    runs: dict[str, list[dict]] = {"baseline": [], "desk": []}
    failures: list[str] = []
    for _ in range(rounds):
        runs["baseline"].append(_run([_desk_baseline_worker(app, db.engine) for _ in emails], sequences))
        runs["desk"].append(_run([_desk_app_worker(app, email, failures) for email in emails], sequences))
        with app.app_context():  # the next round starts with every caller free
            db.session.execute(
                text(
                    "UPDATE call_tasks SET status = 'ready', leased_by_id = NULL, leased_at = NULL, "
                    "lease_expires_at = NULL WHERE status = 'leased'"
                )
            )
            db.session.execute(text("UPDATE bare_tasks SET status = 'ready' WHERE status = 'leased'"))
            db.session.commit()
            db.session.remove()
    ratios = sorted(d["per_s"] / b["per_s"] for d, b in zip(runs["desk"], runs["baseline"], strict=True))
    p95s = sorted(run["p95_ms"] for run in runs["desk"])
    return {
        "rounds": runs,
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_range": [round(ratios[0], 3), round(ratios[-1], 3)],
        "p95_ms_median": round(statistics.median(p95s), 1),
        "p95_ms_range": [p95s[0], p95s[-1]],
        "failures": failures[:5],
        "failure_count": len(failures),
    }


def _bench(url: str, *, tasks: int, claims: int, callers: int, desk: dict | None = None) -> dict:
    from app import create_app
    from app.extensions import db

    app = create_app(_config(url, callers))
    with app.app_context():
        db.create_all()
        user_ids = _populate(db, tasks, callers)
        postgresql = db.engine.dialect.name == "postgresql"
        with db.engine.begin() as connection:
            connection.execute(
                text("CREATE TABLE bare_tasks (id INTEGER PRIMARY KEY, status VARCHAR(10) NOT NULL)")
            )
            connection.execute(text("CREATE INDEX ix_bare_tasks_status ON bare_tasks (status)"))
            connection.execute(
                text("INSERT INTO bare_tasks (id, status) VALUES (:id, 'ready')"),
                [{"id": n} for n in range(1, tasks + 1)],
            )
            if postgresql:
                connection.execute(text("ANALYZE bare_tasks"))
        figures: dict = {}
        if claims:
            baseline = _run([_baseline_worker(db.engine, postgresql) for _ in range(callers)], claims)
            queue = _run([_app_worker(app, user_id) for user_id in user_ids], claims)
            figures = {
                "baseline": baseline,
                "queue": queue,
                "ratio": round(queue["per_s"] / baseline["per_s"], 3),
            }
        if desk is not None:
            _prepare_desk(db)
            figures["desk"] = _desk(app, db, callers=callers, **desk)
        db.session.remove()
        db.engine.dispose()
    return figures


def _print_desk(desk: dict, callers: int) -> None:
    print()
    print(f"desk run (PostgreSQL, {callers} callers): disposition -> next task -> task page")
    head = (
        ("round", 8),
        ("baseline/s", 12),
        ("base p95", 10),
        ("desk/s", 9),
        ("desk p50", 10),
        ("desk p95", 10),
    )
    print(
        "".join(f"{name:<{width}}" if width == 8 else f"{name:>{width}}" for name, width in head)
        + f"{'ratio':>8}"
    )
    for n, (base, run) in enumerate(zip(desk["rounds"]["baseline"], desk["rounds"]["desk"], strict=True), 1):
        print(
            f"{n:<8}{base['per_s']:>12}{base['p95_ms']:>10}{run['per_s']:>9}{run['p50_ms']:>10}"
            f"{run['p95_ms']:>10}{round(run['per_s'] / base['per_s'], 3):>8}"
        )
    print(
        f"ratio median {desk['ratio_median']} (range {desk['ratio_range'][0]}-{desk['ratio_range'][1]}); "
        f"desk p95 median {desk['p95_ms_median']} ms "
        f"(range {desk['p95_ms_range'][0]}-{desk['p95_ms_range'][1]}); "
        f"targets p95 < 150 ms, ratio >= 0.3; failures {desk['failure_count']}"
    )
    desk["meets_targets"] = (
        desk["p95_ms_median"] < 150 and desk["ratio_median"] >= 0.3 and not desk["failure_count"]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--claims", type=int, default=4_000)
    parser.add_argument("--callers", type=int, default=20)
    parser.add_argument("--sqlite-callers", type=int, default=4)
    parser.add_argument("--only", choices=("all", "claims", "desk"), default="all")
    parser.add_argument("--desk-rounds", type=int, default=3)
    parser.add_argument("--desk-sequences", type=int, default=10, help="per caller and round")
    args = parser.parse_args()
    os.environ.setdefault("WINBACK_DISABLE_WORKER_THREAD", "1")
    figures: dict = {"tasks": args.tasks, "claims": args.claims}
    desk = None if args.only == "claims" else {"per_caller": args.desk_sequences, "rounds": args.desk_rounds}
    claims = 0 if args.only == "desk" else args.claims

    pg_url = bench_database_url("queue_bench", DEFAULT_URL)
    recreate_database(pg_url)
    try:
        figures["postgresql"] = _bench(
            pg_url, tasks=args.tasks, claims=claims, callers=args.callers, desk=desk
        )
    finally:
        recreate_database(pg_url, drop_only=True)
    if args.only == "desk":
        _print_desk(figures["postgresql"]["desk"], args.callers)
        print(json.dumps(figures))
        return
    with tempfile.TemporaryDirectory() as folder:
        sqlite_url = f"sqlite:///{folder}/queue-bench.sqlite3"
        figures["sqlite"] = _bench(
            sqlite_url, tasks=args.tasks, claims=args.claims, callers=args.sqlite_callers
        )

    print(f"{'run':<34}{'callers':>8}{'claims/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'doubles':>9}{'ratio':>8}")
    for backend, callers in (("postgresql", args.callers), ("sqlite", args.sqlite_callers)):
        result = figures[backend]
        for label, run, ratio in (
            (f"{backend}: bare claim (baseline)", result["baseline"], 1.0),
            (f"{backend}: claim_next_task", result["queue"], result["ratio"]),
        ):
            print(
                f"{label:<34}{callers:>8}{run['per_s']:>10}{run['p50_ms']:>9}{run['p95_ms']:>9}"
                f"{run['double_assignments']:>9}{ratio:>8}"
            )
    pg = figures["postgresql"]
    if "desk" in pg:
        _print_desk(pg["desk"], args.callers)
    figures["targets"] = {"p95_ms": 25, "ratio": 0.3}
    figures["meets_targets"] = (
        pg["queue"]["p95_ms"] <= 25
        and pg["ratio"] >= 0.3
        and pg["queue"]["double_assignments"] == 0
        and figures["sqlite"]["queue"]["double_assignments"] == 0
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
