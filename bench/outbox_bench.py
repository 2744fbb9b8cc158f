"""Outbox throughput: 10,000 due emails to a local SMTP sink (aiosmtpd) with 1 and 2 workers on PostgreSQL,
against a bare smtplib loop sending the same messages over one connection, measured in the same run.

    .venv/bin/python bench/outbox_bench.py [--messages 10000]

The baseline's emails are built before its clock starts (the strictest comparison); the workers'
figure includes everything they do: claim, load rows and contacts, check suppression, build, send,
record. Every message has a contact, checked against a 2,000-entry do-not-contact list.

Uses DATABASE_URL, or postgresql+psycopg://postgres@127.0.0.1:5432/winback_messaging; the bench works in
its own database (<name>_bench), which it creates and drops. Targets: 1 worker >= 0.6x the bare loop,
2 workers >= 1.0x.
Each round measures the bare loop and the workers back to back (--rounds, default 3); the ratios are
per round, given as the median and the range. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import smtplib
import socket
import statistics
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiosmtpd.controller import Controller  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from bench.databases import bench_database_url, recreate_database  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/winback_messaging"
MAIL_FROM = "Winback <surveys@winback.example>"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TARGETS = {1: 0.6, 2: 1.0}  # workers: their rate over the bare loop's, at least


class Sink:
    def __init__(self) -> None:
        self.count = 0
        self.ids: Counter[str] = Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        content = envelope.original_content or envelope.content
        start = content.find(b"Message-ID: ")
        key = content[start : content.find(b"\n", start)].decode() if start >= 0 else str(self.count)
        with self.lock:
            self.count += 1
            self.ids[key] += 1
        return "250 2.0.0 Ok: queued"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _config(url: str, port: int) -> dict:
    return {
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": "bench",
        "TESTING": False,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": port,
        "SMTP_STARTTLS": False,
        "SMTP_SSL": False,
        "SMTP_USERNAME": None,
        "MAIL_FROM": MAIL_FROM,
        "PUBLIC_BASE_URL": "https://winback.example",
    }


def _rows(count: int) -> list[dict]:
    from app.messaging.channels import Channel
    from app.messaging.models import MessageStatus

    return [
        {
            "idempotency_key": f"bench:{n}",
            "channel": Channel.EMAIL,
            "recipient": f"person{n}@customer.example",
            "subject": f"Two minutes about your decision, person {n}?",
            "body_text": f"Hello person {n},\n\nWould you tell us why you chose another vendor?\n" * 3,
            "body_html": f"<p>Hello person {n},</p><p>Would you tell us why you chose another vendor?</p>"
            * 3,
            "contact_id": n + 1,  # real outbox emails have a contact: send-time suppression is checked
            "meta": {"unsubscribe_url": f"https://winback.example/unsubscribe/token-{n}"},
            "status": MessageStatus.QUEUED,
            "attempts": 0,
            "next_attempt_at": NOW,
            "created_at": NOW,
        }
        for n in range(count)
    ]


def _add_contacts(db, count: int) -> None:
    """One contact per message (10 per account) and a do-not-contact list that matches none of them."""
    from app.crm.models import Account, Contact
    from app.messaging.models import DoNotContactEntry, DoNotContactKind

    accounts = [
        {"id": a + 1, "crm_source": "bench", "crm_id": f"A{a}", "name": f"Customer {a}", "created_at": NOW}
        for a in range(count // 10 + 1)
    ]
    contacts = [
        {
            "id": n + 1,
            "account_id": n // 10 + 1,
            "first_name": f"Person{n}",
            "email": f"person{n}@customer.example",
            "phone": f"+1415555{n:04d}"[:12],
            "created_at": NOW,
        }
        for n in range(count)
    ]
    entries = [
        {"kind": kind, "value": value, "source": "bench", "created_at": NOW}
        for n in range(1000)
        for kind, value in (
            (DoNotContactKind.EMAIL, f"left{n}@customer.example"),
            (DoNotContactKind.DOMAIN, f"blocked{n}.example"),
        )
    ]
    db.session.execute(insert(Account), accounts)
    db.session.execute(insert(Contact), contacts)
    db.session.execute(insert(DoNotContactEntry), entries)
    db.session.commit()


def _worker_process(url: str, port: int, name: str, ready, go, results) -> None:
    from app import create_app
    from app.extensions import db
    from app.messaging.worker import Worker

    app = create_app(_config(url, port))
    worker = Worker(app, worker_id=name, batch_size=100)
    with app.app_context():
        db.session.execute(text("SELECT 1"))
        db.session.commit()
        ready.release()
        go.wait()
        stats = worker.deliver_due()
        finished = time.perf_counter()
        worker.transports.close()
        db.session.remove()
    results.put((name, stats.sent, finished))


def _run_workers(url: str, port: int, workers: int) -> tuple[float, int]:
    ctx = mp.get_context("spawn")
    ready, go, results = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_worker_process, args=(url, port, f"bench-{i}", ready, go, results))
        for i in range(workers)
    ]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.acquire()
    start = time.perf_counter()  # perf_counter is system-wide (CLOCK_MONOTONIC) on Linux
    go.set()
    outcomes = [results.get() for _ in procs]
    for proc in procs:
        proc.join()
    return max(o[2] for o in outcomes) - start, sum(o[1] for o in outcomes)


def _build_emails(rows: list[dict]) -> tuple[list, float]:
    """The baseline's emails (same headers, parts and Message-IDs as the worker's), built before its clock."""
    from app.messaging.models import OutboundMessage
    from app.messaging.transports import build_email

    start = time.perf_counter()
    emails = [build_email(OutboundMessage(id=n, **row), mail_from=MAIL_FROM) for n, row in enumerate(rows, 1)]
    return emails, time.perf_counter() - start


def _round(db, url: str, port: int, sink: Sink, rows: list[dict], emails: list) -> dict[str, float]:
    """One round: the bare smtplib loop, then 1 and 2 workers on the same messages."""
    from app.messaging.models import OutboundMessage

    count = len(rows)
    sink.count, sink.ids = 0, Counter()
    smtp = smtplib.SMTP("127.0.0.1", port)
    start = time.perf_counter()
    for email in emails:
        smtp.send_message(email, from_addr="surveys@winback.example", to_addrs=[email["To"]])
    baseline = time.perf_counter() - start
    smtp.quit()
    assert sink.count == count
    figures = {"baseline_per_s": round(count / baseline, 1)}
    for workers in (1, 2):
        db.session.execute(text(f"TRUNCATE {OutboundMessage.__tablename__} RESTART IDENTITY"))
        db.session.execute(insert(OutboundMessage), rows)
        db.session.commit()
        sink.count, sink.ids = 0, Counter()
        elapsed, sent = _run_workers(url, port, workers)
        duplicates = sum(1 for n in sink.ids.values() if n > 1)
        if sent != count or sink.count != count or duplicates:
            raise SystemExit(f"{workers} worker(s): sent {sent}, received {sink.count}, dup {duplicates}")
        figures[f"workers_{workers}_per_s"] = round(count / elapsed, 1)
        figures[f"workers_{workers}_ratio"] = round((count / elapsed) / figures["baseline_per_s"], 3)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    count = args.messages

    from app import create_app
    from app.extensions import db

    url = bench_database_url("outbox_bench", DEFAULT_URL)
    recreate_database(url)
    sink, port = Sink(), _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    app = create_app(_config(url, port))
    figures: dict[str, float] = {"messages": count}
    try:
        with app.app_context():
            db.create_all()
            rows = _rows(count)
            _add_contacts(db, count)

            emails, build = _build_emails(rows)
            rounds = [_round(db, url, port, sink, rows, emails) for _ in range(args.rounds)]
            db.session.remove()
            db.engine.dispose()
    finally:
        controller.stop()
        recreate_database(url, drop_only=True)

    print(f"{'round':<7}{'bare msgs/s':>13}{'1 worker':>10}{'ratio':>8}{'2 workers':>11}{'ratio':>8}")
    for n, r in enumerate(rounds, start=1):
        print(
            f"{n:<7}{r['baseline_per_s']:>13}{r['workers_1_per_s']:>10}{r['workers_1_ratio']:>8}"
            f"{r['workers_2_per_s']:>11}{r['workers_2_ratio']:>8}"
        )
    figures["rounds"] = len(rounds)
    figures["building_emails_s_info"] = round(build, 3)  # what the baseline does before its clock starts
    for key in ("baseline_per_s", "workers_1_per_s", "workers_2_per_s", "workers_1_ratio", "workers_2_ratio"):
        values = [r[key] for r in rounds]
        figures[key] = round(statistics.median(values), 3)
        figures[f"{key}_range"] = [min(values), max(values)]
    figures["target_ratio_1_worker"] = TARGETS[1]
    figures["target_ratio_2_workers"] = TARGETS[2]
    figures["meets_target"] = all(figures[f"workers_{n}_ratio"] >= goal for n, goal in TARGETS.items())
    for n, goal in TARGETS.items():
        low, high = figures[f"workers_{n}_ratio_range"]
        print(
            f"{n} worker(s) / bare loop: median {figures[f'workers_{n}_ratio']} (range {low} to {high}); "
            f"target >= {goal}"
        )
    print(json.dumps({"bench": "outbox", **figures}))


if __name__ == "__main__":
    main()
