"""Reports: server time of the loss-reasons and sales-vs-customers pages beside their main SQL aggregate.

Run: .venv/bin/python bench/report_bench.py [--opportunities 20000] [--loads 20] [--database-url URL]
Generates lost opportunities (60 % with one or two customer-stated reasons, a CRM loss reason mapped to a
code, four currencies with monthly rates), then loads each page --loads times with varied filters (owner,
segment, weight, period) through the WSGI app, and prints p50/p95 beside the baseline measured in the same
run: the single hand-written SQL aggregate the page's main figure needs (deals per reason code).
The issue's full scale (100,000 opportunities) is --opportunities 100000; the default stays small because
the machine is shared. SQLite in a temporary folder unless --database-url names an EMPTY database.
The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-key-not-for-production"  # noqa: S105
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PASSWORD = "bench password 123"  # noqa: S105


def _percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--opportunities", type=int, default=20_000)
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--database-url")
    options = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    folder = tempfile.mkdtemp(prefix="report-bench-")
    url = options.database_url or f"sqlite:///{folder}/bench.sqlite3"
    os.environ.update(DATABASE_URL=url, SECRET_KEY=SECRET, WINBACK_DISABLE_WORKER_THREAD="1")
    from flask_migrate import upgrade
    from sqlalchemy import func, insert, select, text

    from app import create_app
    from app.auth.models import Role
    from app.auth.service import create_user
    from app.codebook.models import ReasonCode
    from app.codebook.service import ensure_default_codebook
    from app.coding.models import OpportunityReason
    from app.crm.importing.models import LossReasonMapping
    from app.crm.models import Account, Opportunity
    from app.extensions import db
    from app.money.models import ExchangeRate

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": SECRET,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )
    rng = random.Random(14)
    n = options.opportunities
    segments, regions = ["Enterprise", "Mid-Market", "SMB"], ["EMEA", "Americas", "APAC"]
    owners = [f"Owner {i}" for i in range(25)]
    currencies = ["USD", "EUR", "GBP", "JPY"]
    raw_reasons = ["Price", "Budget", "Timing", "Missing Features", "Other"]
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        ensure_default_codebook()
        codes = list(db.session.scalars(select(ReasonCode.id).where(ReasonCode.parent_id.is_not(None))))
        create_user("admin@bench.example", PASSWORD, Role.ADMIN, name="Bench Admin")
        db.session.execute(
            insert(Account),
            [
                {
                    "id": i + 1,
                    "crm_source": "bench",
                    "crm_id": f"A{i}",
                    "name": f"Account {i}",
                    "segment": segments[i % 3],
                    "region": regions[i % 3],
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for i in range(max(1, n // 20))
            ],
        )
        first = date(2025, 12, 1)
        opportunities, reasons = [], []
        for i in range(n):
            close = first + timedelta(days=rng.randrange(330))
            opportunities.append(
                {
                    "id": i + 1,
                    "crm_source": "bench",
                    "crm_id": f"O{i}",
                    "account_id": 1 + i % max(1, n // 20),
                    "name": f"Deal {i}",
                    "amount": Decimal(rng.randrange(1_000, 300_000)),
                    "currency": currencies[i % 4],
                    "stage": "Closed Lost",
                    "is_closed": True,
                    "is_won": False,
                    "close_date": close,
                    "owner": owners[i % len(owners)],
                    "crm_loss_reason": raw_reasons[i % len(raw_reasons)],
                    "raw": {},
                    "origin": "crm",
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            )
            if rng.random() < 0.6:
                picked = rng.sample(codes, rng.choice((1, 2)))
                reasons += [
                    {
                        "opportunity_id": i + 1,
                        "reason_code_id": c,
                        "mentions": 1,
                        "is_primary": k == 0,
                        "updated_at": NOW,
                    }
                    for k, c in enumerate(picked)
                ]
        for chunk in range(0, len(opportunities), 5000):
            db.session.execute(insert(Opportunity), opportunities[chunk : chunk + 5000])
        for chunk in range(0, len(reasons), 5000):
            db.session.execute(insert(OpportunityReason), reasons[chunk : chunk + 5000])
        month = date(2025, 12, 1)
        while month <= date(2026, 11, 1):
            for currency, rate in (("EUR", "1.08"), ("GBP", "1.27")):  # no JPY rate: "not converted"
                db.session.add(
                    ExchangeRate(
                        month=month,
                        currency=currency,
                        quote_currency="USD",
                        rate=Decimal(rate),
                        updated_at=NOW,
                    )
                )
            month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
        for raw, code in zip(raw_reasons, codes, strict=False):
            db.session.add(LossReasonMapping(raw_value=raw, reason_code_id=code))
        db.session.commit()

        baseline_sql = select(OpportunityReason.reason_code_id, func.count()).join(
            Opportunity, Opportunity.id == OpportunityReason.opportunity_id
        )
        variants = [
            {},
            {"owner": owners[3]},
            {"segment": "Enterprise"},
            {"weight": "amount"},
            {"from": "2026-06-01", "to": "2026-09-30"},
        ]
        client = app.test_client()
        client.post("/login", data={"email": "admin@bench.example", "password": PASSWORD})
        results = {}
        for path in ("/reports/loss-reasons", "/reports/sales-vs-customers"):
            page_times, base_times = [], []
            for load in range(options.loads):
                args = variants[load % len(variants)]
                start = time.perf_counter()
                response = client.get(path, query_string=args)
                page_times.append(time.perf_counter() - start)
                assert response.status_code == 200, response.status_code
                query = baseline_sql.where(
                    Opportunity.is_closed.is_(True),
                    Opportunity.is_won.is_(False),
                    Opportunity.close_date >= date.fromisoformat(args.get("from", "2025-12-01")),
                    Opportunity.close_date <= date.fromisoformat(args.get("to", "2026-11-02")),
                ).group_by(OpportunityReason.reason_code_id)
                if "owner" in args:
                    query = query.where(Opportunity.owner == args["owner"])
                start = time.perf_counter()
                db.session.execute(query).all()
                base_times.append(time.perf_counter() - start)
                db.session.rollback()
            page_p50, page_p95 = _percentiles(page_times)
            base_p50, base_p95 = _percentiles(base_times)
            results[path] = {
                "p50_ms": round(page_p50, 1),
                "p95_ms": round(page_p95, 1),
                "baseline_p50_ms": round(base_p50, 2),
                "baseline_p95_ms": round(base_p95, 2),
                "ratio_p95": round(page_p95 / base_p95, 1) if base_p95 else None,
            }
        backend = db.engine.dialect.name
        total_reasons = db.session.scalar(text("SELECT count(*) FROM opportunity_reasons"))
    print(
        f"{backend}: {n} lost opportunities, {total_reasons} customer-stated reasons, {options.loads} loads"
    )
    print(f"{'page':32} {'p50 ms':>9} {'p95 ms':>9} {'SQL p50':>9} {'SQL p95':>9} {'p95 ratio':>10}")
    for path, figures in results.items():
        print(
            f"{path:32} {figures['p50_ms']:>9} {figures['p95_ms']:>9} {figures['baseline_p50_ms']:>9} "
            f"{figures['baseline_p95_ms']:>9} {figures['ratio_p95']!s:>10}"
        )
    shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps({"backend": backend, "opportunities": n, "pages": results}))


if __name__ == "__main__":
    main()
