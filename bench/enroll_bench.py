"""Enroll 100,000 lost opportunities into one campaign, beside a bare INSERT ... SELECT of the same rows.

Runs on a scratch SQLite file and, when DATABASE_URL points to PostgreSQL, in a scratch schema there
(dropped afterwards). Target: enrollment under 20 s. Last line: one JSON object with the figures.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402

from app import create_app  # noqa: E402
from app.crm.models import Account, Contact, Opportunity  # noqa: E402
from app.extensions import db  # noqa: E402
from app.messaging.models import DoNotContactEntry  # noqa: E402
from campaigns.enrollment import enroll_campaign  # noqa: E402
from campaigns.models import Campaign, CampaignKind, CampaignStatus, Enrollment  # noqa: E402

N = int(os.environ.get("ENROLL_BENCH_N", "100000"))
TARGET_SECONDS = 20.0
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CHUNK = 10_000
SCHEMA = "enroll_bench"


def _generate() -> None:
    """N accounts, each with one contact and one lost opportunity; a few unreachable contacts."""
    tables = (Account.__table__, Contact.__table__, Opportunity.__table__)
    for start in range(0, N, CHUNK):
        ids = range(start + 1, min(start + CHUNK, N) + 1)
        db.session.execute(
            insert(tables[0]),
            [
                {
                    "id": i,
                    "crm_source": "bench",
                    "crm_id": f"A{i}",
                    "name": f"Account {i}",
                    "segment": ("SMB", "Mid-Market", "Enterprise")[i % 3],
                    "region": ("West", "EMEA")[i % 2],
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for i in ids
            ],
        )
        db.session.execute(
            insert(tables[1]),
            [
                {
                    "id": i,
                    "account_id": i,
                    "crm_id": f"C{i}",
                    "first_name": "Pat",
                    "last_name": f"Doe{i}",
                    "title": "VP Operations",
                    "email": f"pat{i}@customer{i % 5000}.example",
                    "phone": f"+1415{i:07d}",
                    "created_at": NOW,
                    "updated_at": NOW,
                    "email_opt_out_at": NOW if i % 97 == 0 else None,
                }
                for i in ids
            ],
        )
        db.session.execute(
            insert(tables[2]),
            [
                {
                    "id": i,
                    "crm_source": "bench",
                    "crm_id": f"O{i}",
                    "account_id": i,
                    "primary_contact_id": i,
                    "name": f"Deal {i}",
                    "amount": Decimal(1000 + i % 90000),
                    "currency": "USD",
                    "stage": "Closed Lost",
                    "is_closed": True,
                    "is_won": False,
                    "close_date": date(2026, 11, 1) - timedelta(days=i % 300),
                    "raw": {},
                    "origin": "crm",
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for i in ids
            ],
        )
    db.session.execute(
        insert(DoNotContactEntry.__table__),
        [
            {"kind": "domain", "value": f"customer{d}.example", "source": "bench", "created_at": NOW}
            for d in range(50)
        ],
    )
    db.session.commit()


def _campaign(name: str) -> Campaign:
    campaign = Campaign(
        name=name,
        kind=CampaignKind.CALL,
        status=CampaignStatus.ACTIVE,
        lost_within_days=365,
        max_contacts_per_account=1,
        cooldown_days=90,
    )
    db.session.add(campaign)
    db.session.commit()
    return campaign


def _baseline(campaign_id: int) -> float:
    """The floor: copy the same rows with no rules, no suppression and no conflict handling."""
    started = time.perf_counter()
    db.session.execute(
        text(
            "INSERT INTO enrollments (campaign_id, opportunity_id, contact_id, status, enrolled_at) "
            "SELECT :campaign, o.id, o.primary_contact_id, 'active', :now FROM opportunities o "
            "WHERE o.is_closed = :yes AND o.is_won = :no"
        ),
        {"campaign": campaign_id, "now": NOW, "yes": True, "no": False},
    )
    db.session.commit()
    return time.perf_counter() - started


def _run(url: str, label: str) -> dict:
    config = {"SQLALCHEMY_DATABASE_URI": url, "SQLALCHEMY_ENGINE_OPTIONS": {}}
    if url.startswith("postgresql"):
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"options": f"-csearch_path={SCHEMA}"}}
    app = create_app(config)
    with app.app_context():
        upgrade(revision="heads")
        started = time.perf_counter()
        _generate()
        generate_seconds = time.perf_counter() - started
        if url.startswith("postgresql"):
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        baseline_campaign = _campaign("Baseline")
        baseline = _baseline(baseline_campaign.id)
        # Its rows would put every contact in cool-down: remove them before the real enrollment.
        db.session.execute(text("DELETE FROM enrollments"))
        db.session.commit()
        campaign = _campaign("Bench")
        started = time.perf_counter()
        result = enroll_campaign(campaign, now=NOW)
        db.session.commit()
        enroll_seconds = time.perf_counter() - started
        started = time.perf_counter()
        again = enroll_campaign(campaign, now=NOW + timedelta(minutes=5))
        db.session.commit()
        rerun_seconds = time.perf_counter() - started
        stored = db.session.scalar(
            select(func.count()).select_from(Enrollment).where(Enrollment.campaign_id == campaign.id)
        )
        db.session.remove()
        db.engine.dispose()
    assert stored == result.created == N, (stored, result.created)
    assert again.created == 0
    return {
        "database": label,
        "opportunities": N,
        "generate_s": round(generate_seconds, 2),
        "baseline_insert_select_s": round(baseline, 3),
        "enroll_s": round(enroll_seconds, 3),
        "rerun_s": round(rerun_seconds, 3),
        "ratio_vs_baseline": round(enroll_seconds / baseline, 2) if baseline else None,
        "suppressed": result.by_status.get("suppressed", 0),
        "under_target": enroll_seconds < TARGET_SECONDS,
    }


def main() -> None:
    os.environ.setdefault("SECRET_KEY", "bench")
    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        runs.append(_run(f"sqlite:///{scratch}/enroll-bench.sqlite3", "sqlite"))
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        url = url.replace("postgres://", "postgresql://", 1)
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        try:
            runs.append(_run(url, "postgresql"))
        finally:
            with engine.begin() as connection:
                connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            engine.dispose()

    header = (
        f"{'database':<11} {'rows':>8} {'baseline s':>11} {'enroll s':>9} {'ratio':>6} "
        f"{'re-run s':>9} {'suppressed':>11}"
    )
    print(header)
    print("-" * len(header))
    for run in runs:
        print(
            f"{run['database']:<11} {run['opportunities']:>8} {run['baseline_insert_select_s']:>11.3f} "
            f"{run['enroll_s']:>9.3f} {run['ratio_vs_baseline']:>6} {run['rerun_s']:>9.3f} "
            f"{run['suppressed']:>11}"
        )
    print(f"target: enrollment under {TARGET_SECONDS:.0f} s")
    print(json.dumps({"bench": "enroll", "target_s": TARGET_SECONDS, "runs": runs}))


if __name__ == "__main__":
    main()
