"""kill -9 of a real `flask worker` process in the middle of a queued UI import (issue #10).

The batch stops beating, is marked failed with a sentence once the heartbeat limit passes, and a
re-run converges: the same deals and accounts as a clean import of the file, none twice.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from app.crm.importing import jobs
from app.crm.importing.formats import mapping_for
from app.crm.importing.models import BatchStatus, ImportBatch
from app.crm.models import Account, Opportunity
from app.db_types import utcnow
from app.extensions import db
from tests.import_jobs import run_queued_imports
from tests.killed import kill9, start_flask, wait_for, worker_env

HEADER = "Opportunity ID,Opportunity Name,Account Name,Stage,Amount,Close Date"
DEALS = 12_000  # six batches of 2,000 rows: the kill lands after the first and before the last
ACCOUNTS = 40


def _write_file(path) -> None:
    rows = (
        f"006Q{n:06d},Deal {n},Acme {n % ACCOUNTS},Closed Lost,{100 + n},2026-11-02" for n in range(DEALS)
    )
    path.write_text(HEADER + "\r\n" + "\r\n".join(rows) + "\r\n")


def _count(what) -> int:
    return db.session.scalar(select(func.count()).select_from(what))


def _batch(batch_id: int) -> ImportBatch:
    batch = db.session.get(ImportBatch, batch_id, populate_existing=True)
    db.session.commit()  # no read transaction held open while the worker writes
    return batch


def test_an_import_killed_mid_run_is_marked_failed_and_a_rerun_converges(
    app, make_app, database_url, tmp_path
):
    path = tmp_path / "deals.csv"
    _write_file(path)
    mapping = mapping_for("salesforce", HEADER.split(","))
    run = ImportBatch(filename="deals.csv", stored_path=str(path), via="ui", actor_label="admin")
    db.session.add(run)
    db.session.flush()
    jobs.queue_run(run, mapping)
    db.session.commit()
    run_id = run.id

    log = tmp_path / "worker.log"
    worker = start_flask(["worker", "--poll", "0.2"], worker_env(database_url, tmp_path / "instance"), log)
    try:

        def running_with_rows_read() -> bool:
            batch = _batch(run_id)
            assert batch.status in (BatchStatus.QUEUED, BatchStatus.RUNNING), "finished before the kill"
            return batch.status is BatchStatus.RUNNING and batch.rows_read > 0

        wait_for(running_with_rows_read, timeout=30, process=worker, log=log)
        kill9(worker)
    finally:
        kill9(worker)

    killed = _batch(run_id)
    assert killed.status is BatchStatus.RUNNING  # nobody said it stopped
    assert 0 < killed.rows_read < DEALS
    # What was committed is whole: each batch's deals with its counters, no account without its deals.
    assert _count(Opportunity) == killed.created
    assert not db.session.scalar(
        select(func.count()).select_from(Account).where(~Account.opportunities.any())
    )
    db.session.commit()

    assert jobs.fail_stale(now=utcnow(), stale_seconds=300) == []  # within the limit: still presumed alive
    db.session.commit()
    worker_app = make_app(IMPORT_STALE_SECONDS=1)  # the next worker, with the heartbeat limit shortened
    later = utcnow() + timedelta(seconds=1.1)  # the limit has passed: no need to wait it out
    with worker_app.app_context():
        assert jobs.run_import_jobs(config=worker_app.config, clock=lambda: later) == []
        db.session.remove()
    dead = _batch(run_id)
    assert dead.status is BatchStatus.FAILED
    assert dead.message.startswith("The process running this import stopped (no sign of life since")
    assert "Rows before it were imported. Run it again" in dead.message

    again = jobs.rerun(dead, user_id=None, actor_label="admin", now=utcnow())
    db.session.commit()
    assert run_queued_imports() == [again.id]
    again = _batch(again.id)
    assert again.status is BatchStatus.DONE
    assert (again.created, again.unchanged, again.failed) == (DEALS - killed.created, killed.created, 0)
    # The same as a clean import of the file: every deal once, every account once.
    assert _count(Opportunity) == DEALS
    assert db.session.scalar(select(func.count(func.distinct(Opportunity.crm_id)))) == DEALS
    assert _count(Account) == ACCOUNTS
    assert db.session.scalar(select(func.sum(Opportunity.amount))) == sum(100 + n for n in range(DEALS))
