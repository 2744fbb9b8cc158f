"""CRM sync benchmark: pull 100,000 closed Salesforce opportunities through the real simple-salesforce
(HTTP faked at the transport by `responses`, pages of 2,000 with nextRecordsUrl) into the import, against
the file import of the same rows (bench/import_bench.py's path), each on an empty database, in the same run.

Prints a table and, as the last line, one JSON object. Targets: sync/file <= 1.5, peak RSS < 300 MB.
The fake org's pages are built before any clock starts, as the file import's CSV is written before its
clock: once per run, into the run's temporary folder, each page the JSON text a SOQL query page is. When
simple-salesforce asks for a page, the fake org reads that page's file and answers with it; the sync's
clock runs over everything the real client does (HTTP through requests and the faked transport, JSON
parsing). The fake org's own time (reading its page files: a real CRM's work, on its side) is measured
and shown apart, and the ratio is given with and without it. (The fake org used to build and encode each
page while the sync waited for it, on the sync's clock: 3.3 s of a 15.3 s SQLite sync.)
SQLite always; PostgreSQL too when DATABASE_URL points at one (its tables are dropped and rebuilt).
BENCH_ROWS (default 100000), BENCH_ROUNDS (default 3; each round is a fresh process, figures are medians).
"""

from __future__ import annotations

import csv
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.import_bench import HEADER, import_once, make_app, rss_mb  # noqa: E402

PAGE = 2000
STAGES = ("Closed Lost", "Closed Won")  # closed deals only: what the pull asks for
REASONS = ("Price", "Timing", "Lost to Competitor", "Missing Features", "")
COMPETITORS = ("Northwind", "Contoso", "Globex Data", "Initech", "")
INSTANCE = "https://bench.my.salesforce.com"
BASE = f"{INSTANCE}/services/data/v62.0"
START = date(2025, 1, 1)


def deals(rows: int, seed: int = 7):
    """The rows both sides import, in order: (n, stage, amount, close date, reason, competitor)."""
    rng = random.Random(seed)
    for n in range(rows):
        yield (
            n,
            rng.choice(STAGES),
            rng.randint(500, 90000),
            START + timedelta(days=n % 700),
            rng.choice(REASONS),
            rng.choice(COMPETITORS),
        )


def write_csv(path: Path, rows: int) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for n, stage, amount, close, reason, competitor in deals(rows):
            account = n // 4
            writer.writerow(
                [
                    f"006B{n:011d}",
                    f"Deal {n}",
                    f"001B{account:010d}",
                    f"Account {account}",
                    "retail",
                    stage,
                    f"${amount:,}.00",
                    close.strftime("%m/%d/%Y"),
                    f"Owner {n % 30}",
                    reason,
                    competitor,
                    f"003B{account:010d}",
                    "Pat",
                    f"Doe{account}",
                    f"pat{account}@acct{account}.example",
                    f"+1415555{account % 10000:04d}",
                ]
            )
    return path


def sf_record(n, stage, amount, close, reason, competitor, stamp: str) -> dict:
    """One opportunity as a SOQL query page returns it (relationship fields nested, with attributes)."""
    account = n // 4
    return {
        "attributes": {
            "type": "Opportunity",
            "url": f"/services/data/v62.0/sobjects/Opportunity/006B{n:011d}",
        },
        "Id": f"006B{n:011d}",
        "Name": f"Deal {n}",
        "StageName": stage,
        "IsClosed": True,
        "IsWon": stage == "Closed Won",
        "Amount": float(amount),
        "CloseDate": close.isoformat(),
        "Owner": {
            "attributes": {"type": "User", "url": "/services/data/v62.0/sobjects/User/005B"},
            "Name": f"Owner {n % 30}",
        },
        "AccountId": f"001B{account:010d}",
        "Account": {
            "attributes": {
                "type": "Account",
                "url": f"/services/data/v62.0/sobjects/Account/001B{account:010d}",
            },
            "Name": f"Account {account}",
            "Website": None,
            "Industry": "retail",
            "BillingCountry": None,
        },
        "Loss_Reason__c": reason or None,
        "Competitor__c": competitor or None,
        "Winback_ID__c": None,
        "SystemModstamp": stamp,
        "OpportunityContactRoles": {
            "totalSize": 1,
            "done": True,
            "records": [
                {
                    "attributes": {
                        "type": "OpportunityContactRole",
                        "url": "/services/data/v62.0/sobjects/OpportunityContactRole/00KB",
                    },
                    "ContactId": f"003B{account:010d}",
                    "Contact": {
                        "attributes": {
                            "type": "Contact",
                            "url": f"/services/data/v62.0/sobjects/Contact/003B{account:010d}",
                        },
                        "FirstName": "Pat",
                        "LastName": f"Doe{account}",
                        "Title": None,
                        "Email": f"pat{account}@acct{account}.example",
                        "Phone": f"+1415555{account % 10000:04d}",
                    },
                }
            ],
        },
    }


def page_file(pages: Path, offset: int) -> Path:
    return pages / f"page-{offset}.json"


def write_pages(pages: Path, rows: int) -> Path:
    """The org's answers to the pull's query, page by page as Salesforce sends them, the rows oldest first.

    A page's nextRecordsUrl ends with the offset of the page it leads to; its file is named by that offset.
    """
    pages.mkdir()
    source = deals(rows)
    stamp = datetime(2026, 11, 1, tzinfo=UTC)
    served = 0
    while True:
        offset, records = served, []
        for row in source:
            stamp += timedelta(seconds=1)
            records.append(sf_record(*row, stamp=stamp.strftime("%Y-%m-%dT%H:%M:%S.000+0000")))
            if len(records) == PAGE:
                break
        served += len(records)
        body = {"totalSize": rows, "done": served >= rows, "records": records}
        if not body["done"]:
            body["nextRecordsUrl"] = f"/services/data/v62.0/query/01gBENCH-{served}"
        page_file(pages, offset).write_text(json.dumps(body))
        if body["done"]:
            return pages


class FakeOrg:
    """Serves the pages written by write_pages as simple-salesforce asks for them, one at a time."""

    def __init__(self, mock, pages: Path) -> None:
        import re

        import responses

        self.mock, self.pages, self.offset, self.seconds, self.cpu = mock, pages, 0, 0.0, 0.0
        describe = {
            "name": "Opportunity",
            "fields": [{"name": f} for f in ("Id", "Loss_Reason__c", "Competitor__c", "Winback_ID__c")],
        }
        mock.add(responses.GET, f"{BASE}/sobjects/Opportunity/describe", json=describe)
        mock.add_callback(responses.GET, re.compile(re.escape(f"{BASE}/query/") + r".*"), callback=self.page)

    def page(self, request):
        began, began_cpu = time.perf_counter(), time.process_time()
        # responses keeps every call, on the mock and on the matched response: 50 pages of 3 MB would
        # count as the sync's memory.
        self.mock.calls.reset()
        for match in self.mock.registered():
            match.calls.reset()
        path = urlparse(request.url).path
        if not path.endswith("/query/"):
            assert path.endswith(f"-{self.offset}"), path  # the pages are asked for in order
        body = page_file(self.pages, self.offset).read_bytes()
        self.offset += PAGE
        self.seconds += time.perf_counter() - began
        self.cpu += time.process_time() - began_cpu
        return 200, {"Content-Type": "application/json"}, body


def sync_once(app, pages: Path) -> tuple[float, float, dict]:
    """(seconds, of which the fake org's, counts) of one `crm sync` pull of every row; CPU seconds of both
    in SYNC_CPU (the machine may be shared: CPU time does not count the waits for a core)."""
    import responses

    from app.crm.importing.records import ImportSettings
    from app.crm.sync.salesforce import SalesforceConnector, SalesforceSettings
    from app.crm.sync.service import run_sync
    from app.extensions import db

    # simple-salesforce's import (zeep, lxml) is a process's one-time cost, as the file import's modules
    # are imported by make_app: both are paid before the clock starts.
    settings = SalesforceSettings(instance_url=INSTANCE, access_token="BENCH")  # noqa: S106 (the fake org's)
    with app.app_context(), responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        org = FakeOrg(mock, pages)
        began, began_cpu = time.perf_counter(), time.process_time()
        result = run_sync(
            SalesforceConnector(settings),
            settings=ImportSettings(),
            now=datetime.now(UTC),
            checkpoint=db.session.commit,
        )
        db.session.commit()
        elapsed = time.perf_counter() - began
        SYNC_CPU[:] = [time.process_time() - began_cpu, org.cpu]
        db.session.remove()
    assert result.error is None, result.error
    return elapsed, org.seconds, result.counts()


SYNC_CPU: list[float] = []


def round_child(folder: Path, rows: int, url_file: str, url_sync: str) -> None:
    file_app = make_app(url_file)
    began_cpu = time.process_time()
    file_seconds, file_counts = import_once(file_app, folder / "export.csv")
    file_cpu = time.process_time() - began_cpu
    sync_seconds, fake_seconds, sync_counts = sync_once(make_app(url_sync), folder / "pages")
    assert file_counts["created"] == rows, file_counts
    assert sync_counts["created"] == rows, sync_counts
    print(json.dumps([file_seconds, sync_seconds, fake_seconds, file_cpu, *SYNC_CPU]))


def rss_child(pages: Path, url: str) -> None:
    sync_once(make_app(url), pages)
    print(f"{rss_mb():.1f}")


def child(args: list[str]) -> str:
    return (
        subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
        .stdout.strip()
        .splitlines()[-1]
    )


def run_database(label: str, pairs: list[tuple[str, str]], folder: Path, rows: int) -> dict:
    results = [json.loads(child(["--round", str(folder), str(rows), a, b])) for a, b in pairs]
    columns = list(zip(*results, strict=True))
    file_s, sync_s, fake_s, file_cpu, sync_cpu, fake_cpu = (statistics.median(c) for c in columns)
    each = [s / f for f, s, *_ in results]
    each_cpu = [s / f for _, _, _, f, s, _ in results]
    return {
        "database": label,
        "rows": rows,
        "rounds": len(results),
        "file_import_s": round(file_s, 2),
        "sync_s": round(sync_s, 2),
        "fake_org_s": round(fake_s, 2),
        "sync_over_file": round(statistics.median(each), 2),
        "sync_without_fake_over_file": round(statistics.median((s - k) / f for f, s, k, *_ in results), 2),
        "sync_over_file_each_round": [round(r, 2) for r in each],
        # CPU time: what each side computed, without the waits for a core on a loaded machine.
        "file_import_cpu_s": round(file_cpu, 2),
        "sync_cpu_s": round(sync_cpu, 2),
        "fake_org_cpu_s": round(fake_cpu, 2),
        "cpu_sync_over_file": round(statistics.median(each_cpu), 2),
        "cpu_sync_over_file_range": [round(min(each_cpu), 2), round(max(each_cpu), 2)],
        "cpu_sync_without_fake_over_file": round(
            statistics.median((s - k) / f for _, _, _, f, s, k in results), 2
        ),
    }


def main() -> None:
    rows = int(os.environ.get("BENCH_ROWS", "100000"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    pg = os.environ.get("DATABASE_URL", "")
    pg = pg if pg.startswith("postgresql") else ""
    results = []
    with tempfile.TemporaryDirectory() as folder:
        # Both sides' input is made before any clock starts: the file's CSV and the org's query pages.
        write_csv(Path(folder) / "export.csv", rows)
        pages = write_pages(Path(folder) / "pages", rows)
        pairs = [
            (f"sqlite:///{folder}/f{n}.sqlite3", f"sqlite:///{folder}/s{n}.sqlite3") for n in range(rounds)
        ]
        results.append(run_database("sqlite", pairs, Path(folder), rows))
        if pg:
            results.append(run_database("postgresql", [(pg, pg)] * rounds, Path(folder), rows))
        rss = float(child(["--rss", str(pages), f"sqlite:///{folder}/rss.sqlite3"]))
    print(
        f"{'database':<11}{'rows':>9}{'file s':>9}{'sync s':>9}{'fake org s':>12}"
        f"{'sync/file':>11}{'w/o fake':>10}{'cpu ratio':>11}{'cpu range':>14}{'cpu w/o fake':>14}"
    )
    for r in results:
        low, high = r["cpu_sync_over_file_range"]
        print(
            f"{r['database']:<11}{r['rows']:>9}{r['file_import_s']:>9}{r['sync_s']:>9}{r['fake_org_s']:>12}"
            f"{r['sync_over_file']:>11}{r['sync_without_fake_over_file']:>10}{r['cpu_sync_over_file']:>11}"
            f"{f'{low}-{high}':>14}{r['cpu_sync_without_fake_over_file']:>14}"
        )
    print(f"peak RSS of a {rows}-row sync: {rss:.0f} MB")
    print("targets: sync/file <= 1.5, peak RSS < 300 MB")
    print(json.dumps({"results": results, "rss_mb": rss, "page_size": PAGE}))


if __name__ == "__main__":
    if len(sys.argv) > 5 and sys.argv[1] == "--round":
        round_child(Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5])
    elif len(sys.argv) > 3 and sys.argv[1] == "--rss":
        rss_child(Path(sys.argv[2]), sys.argv[3])
    else:
        main()
