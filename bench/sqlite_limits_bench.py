"""How far the embedded SQLite default goes: a large enrollment while respondents open their surveys.

Run: .venv/bin/python bench/sqlite_limits_bench.py [--deals 200000] [--respondents 8] [--tokens 4000]

On a scratch SQLite file: N accounts, each with a contact and a lost deal (bench/enroll_bench's data),
and an open deal for one account in ten.
Measures, each beside a baseline taken in the same run:
- the campaign edit page's preview (counts by suppression reason, the preview contact) beside a bare
  count of the lost deals;
- a call campaign's enrollment of every deal, committed in chunks as the worker does; the longest
  chunk is the longest any other writer waits for SQLite's one write lock;
- a survey campaign's enrollment of about --survey-deals deals (an invitation and a queued email each);
- respondents (threads, each opening fresh survey links: a write of opened_at per open) while the call
  enrollment runs, beside the same respondents with the database idle: latency and errors (any 5xx).
The last line is one JSON object with the figures.
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
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _respondents(app, tokens: list[str], threads: int, stop: threading.Event, *, limit: int | None = None):
    """Threads opening survey links until `stop` (or `limit` opens each); latencies and error count."""
    latencies: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()
    cursor = iter(range(len(tokens)))

    def run() -> None:
        client = app.test_client()
        done = 0
        while not stop.is_set() and (limit is None or done < limit):
            with lock:
                index = next(cursor, None)
            if index is None:
                return
            started = time.perf_counter()
            status = client.get(f"/s/{tokens[index]}").status_code
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if status >= 500:
                    errors.append(status)
            done += 1
            time.sleep(0.05)  # a person reads the page

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    return workers, latencies, errors


def _summary(latencies: list[float], errors: list[int]) -> dict:
    return {
        "opens": len(latencies),
        "errors_5xx": len(errors),
        "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "p95_ms": round(_percentile(latencies, 0.95) * 1000, 1),
        "max_ms": round(max(latencies, default=0) * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, default=200_000)
    parser.add_argument("--respondents", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=4_000)
    parser.add_argument("--survey-deals", type=int, default=2_000, help="about this many survey invitations")
    args = parser.parse_args()
    os.environ["ENROLL_BENCH_N"] = str(args.deals)
    os.environ.setdefault("SECRET_KEY", "bench")

    from flask_migrate import upgrade
    from sqlalchemy import func, select, text

    import bench.enroll_bench as data
    from app import create_app
    from app.codebook.service import ensure_default_codebook
    from app.crm.models import Contact
    from app.database import CHECKPOINT_PAUSE_SECONDS
    from app.extensions import db
    from app.messaging.channels import Channel
    from campaigns.enrollment import enroll_campaign, preview_rules
    from campaigns.models import Campaign, CampaignKind, CampaignStatus
    from campaigns.service import preview_contact
    from campaigns.targeting import TargetingRules
    from surveys.builder import publish
    from surveys.invitations import create_invitation, invitation_token
    from surveys.library import WIN_LOSS, create_from_template

    now = data.NOW
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{scratch}/limits.sqlite3"
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "SQLALCHEMY_ENGINE_OPTIONS": {},
                "WTF_CSRF_ENABLED": False,
                "RATELIMIT_ENABLED": False,
                "SURVEY_IP_RATE_LIMIT": "1000000 per minute",
                "SURVEY_TOKEN_RATE_LIMIT": "1000000 per minute",
            }
        )
        results: dict = {"deals": args.deals, "respondents": args.respondents}
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            started = time.perf_counter()
            data._generate()
            # A real CRM has open deals too: one account in ten (they suppress that account).
            db.session.execute(
                text(
                    "INSERT INTO opportunities (crm_source, crm_id, account_id, name, amount, currency,"
                    " stage, is_closed, is_won, raw, origin, created_at, updated_at)"
                    " SELECT crm_source, 'OPEN' || id, account_id, name, amount, currency, 'Negotiation',"
                    " 0, 0, raw, origin, created_at, updated_at FROM opportunities WHERE id % 10 = 0"
                )
            )
            db.session.commit()
            results["generate_s"] = round(time.perf_counter() - started, 1)
            ensure_default_codebook()
            version = publish(create_from_template(WIN_LOSS, now=now).versions[0], now=now)
            db.session.commit()
            contacts = db.session.scalars(
                select(Contact).order_by(Contact.id.desc()).limit(args.tokens)
            ).all()
            tokens = [
                invitation_token(create_invitation(version, contact, channel=Channel.EMAIL, now=now))
                for contact in contacts
            ]
            db.session.commit()
            version_id = version.id

            # The edit page's preview, beside a bare count of the lost deals.
            started = time.perf_counter()
            db.session.scalar(text("SELECT count(*) FROM opportunities WHERE is_closed = 1 AND is_won = 0"))
            results["preview_baseline_count_s"] = round(time.perf_counter() - started, 3)
            rules = TargetingRules(channel=Channel.CALL, lost_within_days=365, cooldown_days=90)
            started = time.perf_counter()
            preview = preview_rules(rules, now=now)
            results["preview_counts_s"] = round(time.perf_counter() - started, 3)
            started = time.perf_counter()
            preview_contact(rules, now=now)
            results["preview_contact_s"] = round(time.perf_counter() - started, 3)
            results["preview_contacts"] = preview.contacts
            db.session.remove()

        # Respondents with the database idle: the baseline.
        half = len(tokens) // 4
        stop = threading.Event()
        workers, latencies, errors = _respondents(app, tokens[:half], args.respondents, stop, limit=25)
        for worker in workers:
            worker.join()
        results["respondents_idle"] = _summary(latencies, errors)

        # The call campaign's enrollment, in chunks, while respondents open their links.
        chunk_seconds: list[float] = []
        enrolled: dict = {}

        def enroll() -> None:
            with app.app_context():
                campaign = Campaign(
                    name="Calls",
                    kind=CampaignKind.CALL,
                    status=CampaignStatus.ACTIVE,
                    lost_within_days=365,
                    max_contacts_per_account=1,
                    cooldown_days=90,
                )
                db.session.add(campaign)
                db.session.commit()
                mark = [time.perf_counter()]

                def checkpoint() -> None:  # commit_checkpoint, timed
                    db.session.commit()
                    chunk_seconds.append(time.perf_counter() - mark[0])
                    time.sleep(CHECKPOINT_PAUSE_SECONDS)
                    mark[0] = time.perf_counter()

                started = time.perf_counter()
                result = enroll_campaign(campaign, now=now, checkpoint=checkpoint)
                db.session.commit()
                enrolled.update(created=result.created, seconds=time.perf_counter() - started)
                db.session.remove()

        enroller = threading.Thread(target=enroll)
        stop = threading.Event()
        enroller.start()
        workers, latencies, errors = _respondents(app, tokens[half:], args.respondents, stop)
        enroller.join()
        stop.set()
        for worker in workers:
            worker.join()
        results["call_enrollment"] = {
            "created": enrolled.get("created"),
            "seconds": round(enrolled.get("seconds", 0), 1),
            "chunks": len(chunk_seconds),
            "longest_chunk_s": round(max(chunk_seconds, default=0), 2),
        }
        results["respondents_during_enrollment"] = _summary(latencies, errors)

        # A survey campaign: an invitation and a queued email for each of about --survey-deals deals.
        with app.app_context():
            survey = Campaign(
                name="Survey",
                kind=CampaignKind.SURVEY,
                status=CampaignStatus.ACTIVE,
                survey_version_id=version_id,
                # Deal amounts are 1000 + i % 90000: this bound selects about --survey-deals of them.
                amount_max=Decimal(1000 + max(0, args.survey_deals * 90_000 // max(args.deals, 90_000) - 1)),
                max_contacts_per_account=1,
                cooldown_days=0,
            )
            db.session.add(survey)
            db.session.commit()
            longest = [0.0]
            mark = [time.perf_counter()]

            def checkpoint() -> None:  # commit_checkpoint, timed
                db.session.commit()
                longest[0] = max(longest[0], time.perf_counter() - mark[0])
                time.sleep(CHECKPOINT_PAUSE_SECONDS)
                mark[0] = time.perf_counter()

            started = time.perf_counter()
            result = enroll_campaign(survey, now=now, checkpoint=checkpoint)
            db.session.commit()
            results["survey_enrollment"] = {
                "created": result.created,
                "invited": result.invited,
                "seconds": round(time.perf_counter() - started, 1),
                "longest_chunk_s": round(longest[0], 2),
            }
            results["database_mb"] = round(Path(scratch, "limits.sqlite3").stat().st_size / 2**20, 1)
            db.session.scalar(select(func.count()).select_from(Campaign))
            db.session.remove()
            db.engine.dispose()

    idle, busy = results["respondents_idle"], results["respondents_during_enrollment"]
    print(f"SQLite limits, {args.deals:,} deals and contacts, {args.respondents} respondent threads")
    print(f"{'measure':<44} {'value':>12} {'baseline':>12}")
    print("-" * 70)
    print(
        f"{'edit page preview counts (s)':<44} {results['preview_counts_s']:>12} "
        f"{results['preview_baseline_count_s']:>12}"
    )
    print(f"{'edit page preview contact (s)':<44} {results['preview_contact_s']:>12} {'':>12}")
    call = results["call_enrollment"]
    print(f"{'call enrollment (s), ' + str(call['created']) + ' rows':<44} {call['seconds']:>12} {'':>12}")
    print(f"{'longest chunk = longest write wait (s)':<44} {call['longest_chunk_s']:>12} {'':>12}")
    survey_run = results["survey_enrollment"]
    label = f"survey enrollment (s), {survey_run['invited']} invitations"
    print(f"{label:<44} {survey_run['seconds']:>12} {'':>12}")
    print(f"{'respondent open p95 (ms), during / idle':<44} {busy['p95_ms']:>12} {idle['p95_ms']:>12}")
    print(f"{'respondent open max (ms), during / idle':<44} {busy['max_ms']:>12} {idle['max_ms']:>12}")
    print(f"{'respondent 5xx, during / idle':<44} {busy['errors_5xx']:>12} {idle['errors_5xx']:>12}")
    print(f"{'opens, during / idle':<44} {busy['opens']:>12} {idle['opens']:>12}")
    print(json.dumps({"bench": "sqlite_limits", **results}))


if __name__ == "__main__":
    main()
