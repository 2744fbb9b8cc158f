"""Dry runs and imports from the pages are jobs for `flask worker`: queued, claimed once, beating; a run
whose process died is marked failed and can be run again; uploads are deleted after a while (issue #10)."""

from __future__ import annotations

import io
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import func, select

from app.auth.models import Role
from app.crm.importing import jobs
from app.crm.importing.formats import mapping_for
from app.crm.importing.models import BatchStatus, ImportBatch
from app.crm.importing.records import ImportSettings
from app.crm.importing.service import run_import
from app.crm.models import Opportunity
from app.extensions import db
from tests.import_jobs import run_queued_imports

HEADER = "Opportunity ID,Opportunity Name,Account Name,Stage,Amount,Close Date\r\n"
ROWS = "".join(f"006J{n},Deal {n},Acme,Closed Lost,100,2026-11-02\r\n" for n in range(1, 6))
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _upload(client, text: str = HEADER + ROWS) -> str:
    response = client.post(
        "/imports/new",
        data={"file": (io.BytesIO(text.encode()), "deals.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    return response.headers["Location"]


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(Opportunity))


def test_an_import_from_the_page_is_queued_and_the_worker_runs_it(app, make_user, login, runner):
    client = login(make_user(Role.ADMIN))
    preview_url = _upload(client)
    response = client.post(preview_url, data={"action": "import"})
    run = db.session.scalar(select(ImportBatch).where(ImportBatch.status == BatchStatus.QUEUED))
    assert run is not None
    assert _count() == 0  # nothing ran inside the request
    waiting = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Waiting for a worker" in waiting
    assert "data-refresh-after" in waiting  # ui.js reloads it until the worker is done

    result = runner.invoke(args=["worker", "--once"])  # the worker's periodic job runs the queue
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(ImportBatch, run.id).status is BatchStatus.DONE
    assert _count() == 5
    assert "Done." in client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_dry_run_from_the_page_is_queued_too_and_writes_nothing(app, make_user, login):
    client = login(make_user(Role.ADMIN))
    client.post(_upload(client), data={"action": "dry_run"})
    (run_id,) = run_queued_imports()
    batch = db.session.get(ImportBatch, run_id)
    assert (batch.dry_run, batch.status, batch.created) == (True, BatchStatus.DONE, 5)
    assert _count() == 0


def test_a_dry_run_in_several_batches_counts_what_the_import_does(app, tmp_path):
    path = tmp_path / "d.csv"
    rows = [f"006K{n},Deal {n},Acme {n % 2},Closed Lost,100,2026-11-02,Globex" for n in range(7)]
    path.write_text(HEADER.strip() + ",Competitor\r\n" + "\r\n".join(rows) + "\r\n")
    header = HEADER.strip().split(",") + ["Competitor"]
    mapping = mapping_for("salesforce", header)
    dry = ImportBatch(filename="d.csv", via="cli", dry_run=True)
    db.session.add(dry)
    db.session.commit()
    run_import(dry, path, mapping, ImportSettings(), now=NOW, checkpoint=db.session.commit, batch_rows=3)
    db.session.commit()
    assert (dry.created, dry.failed) == (7, 0)
    assert _count() == 0
    real = ImportBatch(filename="d.csv", via="cli")
    db.session.add(real)
    db.session.commit()
    run_import(real, path, mapping, ImportSettings(), now=NOW, checkpoint=db.session.commit, batch_rows=3)
    db.session.commit()
    assert (real.created, real.failed) == (dry.created, dry.failed)


def test_a_run_whose_process_died_is_marked_failed_and_a_rerun_converges(app, tmp_path):
    path = tmp_path / "deals.csv"
    path.write_text(HEADER + ROWS)
    mapping = mapping_for("salesforce", HEADER.strip().split(","))
    run = ImportBatch(filename="deals.csv", stored_path=str(path), via="ui", actor_label="admin")
    db.session.add(run)
    db.session.flush()
    jobs.queue_run(run, mapping)
    db.session.commit()
    claimed = jobs.claim_next(now=NOW)
    assert claimed.id == run.id
    assert jobs.claim_next(now=NOW) is None  # claimed once

    beats = []

    def dies_after_the_first_batch() -> None:
        claimed.heartbeat_at = NOW + timedelta(seconds=len(beats))
        db.session.commit()
        beats.append(1)
        if len(beats) == 1:
            raise KeyboardInterrupt  # stands for kill -9: nothing after this line runs

    with pytest.raises(KeyboardInterrupt):
        run_import(
            claimed,
            path,
            mapping,
            ImportSettings(),
            now=NOW,
            checkpoint=dies_after_the_first_batch,
            batch_rows=2,
        )
    db.session.rollback()
    assert db.session.get(ImportBatch, run.id).status is BatchStatus.RUNNING
    assert _count() == 2

    assert jobs.fail_stale(now=NOW + timedelta(seconds=60), stale_seconds=300) == []  # still beating
    assert jobs.fail_stale(now=NOW + timedelta(seconds=400), stale_seconds=300) == [run.id]
    db.session.commit()
    dead = db.session.get(ImportBatch, run.id)
    assert dead.status is BatchStatus.FAILED
    assert "stopped (no sign of life since 2026-11-28 12:00 UTC)" in dead.message
    assert "Run it again" in dead.message

    again = jobs.rerun(dead, user_id=None, actor_label="admin", now=NOW)
    db.session.commit()
    assert run_queued_imports() == [again.id]
    again = db.session.get(ImportBatch, again.id)
    assert (again.status, again.created, again.unchanged, again.failed) == (BatchStatus.DONE, 3, 2, 0)
    assert _count() == 5


def test_the_failed_page_offers_to_run_it_again(app, make_user, login):
    client = login(make_user(Role.ADMIN))
    client.post(_upload(client), data={"action": "import"})
    run = db.session.scalar(select(ImportBatch).where(ImportBatch.status == BatchStatus.QUEUED))
    run.status = BatchStatus.RUNNING
    run.heartbeat_at = datetime.now(UTC) - timedelta(hours=1)
    db.session.commit()
    assert run_queued_imports() == []  # marked failed, nothing queued
    page = client.get(f"/imports/{run.id}").get_data(as_text=True)
    assert "The process running this import stopped" in page
    assert "Run it again" in page
    response = client.post(f"/imports/{run.id}/rerun")
    assert response.status_code == 302
    (rerun_id,) = run_queued_imports()
    assert db.session.get(ImportBatch, rerun_id).created == 5
    refused = client.post(f"/imports/{rerun_id}/rerun", follow_redirects=True)  # done: a re-run is allowed
    assert refused.status_code == 200


def test_a_queued_run_whose_file_was_deleted_fails_with_a_sentence(app, make_user, login):
    client = login(make_user(Role.ADMIN))
    client.post(_upload(client), data={"action": "import"})
    run = db.session.scalar(select(ImportBatch).where(ImportBatch.status == BatchStatus.QUEUED))
    Path(run.stored_path).unlink()
    run_queued_imports()
    db.session.expire_all()
    failed = db.session.get(ImportBatch, run.id)
    assert failed.status is BatchStatus.FAILED
    assert "no longer stored" in failed.message


def test_workers_claim_each_queued_run_once(app, tmp_path):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("several workers at once need PostgreSQL (FOR UPDATE SKIP LOCKED); SQLite runs one")
    for n in range(12):
        db.session.add(ImportBatch(filename=f"{n}.csv", via="ui", status=BatchStatus.QUEUED, settings={}))
    db.session.commit()
    claims: dict[str, list[int]] = {}

    def work(name: str) -> None:
        with app.app_context():
            mine = claims.setdefault(name, [])
            while (batch := jobs.claim_next(now=NOW)) is not None:
                mine.append(batch.id)
            db.session.remove()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = [i for ids in claims.values() for i in ids]
    assert len(claimed) == len(set(claimed)) == 12


def test_uploads_older_than_the_retention_are_deleted_and_their_preview_is_404(app, make_user, login):
    client = login(make_user(Role.ADMIN))
    old_preview = _upload(client)
    old = db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()))
    client.post(_upload(client), data={"action": "import"})  # queued: its file is in use
    queued = db.session.scalar(select(ImportBatch).where(ImportBatch.status == BatchStatus.QUEUED))
    long_ago = time.time() - 30 * 86400
    for path in (old.stored_path, queued.stored_path):
        os.utime(path, (long_ago, long_ago))
    folder = Path(current_app.config["INSTANCE_DIR"]) / "imports"

    deleted = jobs.delete_old_uploads(folder=folder, now=datetime.now(UTC), retention_days=7)
    db.session.commit()

    assert deleted >= 1
    assert not Path(old.stored_path or "/nonexistent").exists()
    db.session.expire_all()
    assert db.session.get(ImportBatch, old.id).stored_path is None
    assert Path(db.session.get(ImportBatch, queued.id).stored_path).is_file()
    assert client.get(old_preview).status_code == 404
