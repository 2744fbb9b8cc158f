"""Config, health, migrations, SQLite settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from app.extensions import db
from config import DevelopmentConfig, ProductionConfig


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_answers_503_when_the_database_is_unreachable(make_app, tmp_path):
    # A directory cannot be opened as a database file: the check must fail, not hang.
    broken = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/")
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "database": "error"}


def test_migrations_produce_exactly_the_models_schema(app):
    """The migrated database and the models agree, on SQLite and on PostgreSQL alike."""
    with db.engine.connect() as connection:
        differences = compare_metadata(
            MigrationContext.configure(connection, opts={"compare_type": True}), db.metadata
        )
    assert differences == []


def test_the_migrations_form_one_line_so_a_plain_db_upgrade_works():
    """`flask db upgrade` (what `make run` calls) refuses when two migrations follow the same one."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(str(Path(__file__).resolve().parents[1] / "migrations"))
    assert len(scripts.get_heads()) == 1, scripts.get_heads()


def test_production_refuses_to_start_without_a_secret_key(monkeypatch):
    monkeypatch.setattr(ProductionConfig, "SECRET_KEY", None)
    with pytest.raises(RuntimeError, match="SECRET_KEY is not set"):
        ProductionConfig()


def test_production_cookies_are_secure(monkeypatch):
    monkeypatch.setattr(
        ProductionConfig, "SECRET_KEY", "from-the-environment-5d0c9e1a7b3f48e2a6c4d1f0b9e87a3c"
    )
    monkeypatch.setattr(ProductionConfig, "PUBLIC_BASE_URL", "https://winback.example.com")
    config = ProductionConfig()
    assert config.SESSION_COOKIE_SECURE is True
    assert config.REMEMBER_COOKIE_SECURE is True
    assert config.SESSION_COOKIE_HTTPONLY is True
    assert config.REMEMBER_COOKIE_SAMESITE == "Lax"


def test_development_generates_and_keeps_a_secret_key(monkeypatch, tmp_path: Path):
    import config as config_module

    monkeypatch.setattr(config_module, "INSTANCE_DIR", tmp_path)
    monkeypatch.setattr(DevelopmentConfig, "SECRET_KEY", None)
    first = DevelopmentConfig().SECRET_KEY
    second = DevelopmentConfig().SECRET_KEY
    assert first == second
    assert len(first) >= 64
    assert (tmp_path / "secret_key").read_text() == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_sqlite_runs_with_wal_and_foreign_keys(make_app, tmp_path):
    sqlite_app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'wal.sqlite3'}")
    with sqlite_app.app_context():
        assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_unknown_page_gets_a_friendly_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_api_paths_get_json_errors(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_a_rolled_back_savepoint_leaves_nothing(app):
    """pysqlite's legacy transactions let a SAVEPOINT opened before any write commit on its own."""
    from sqlalchemy import func, select

    from app.db_types import utcnow
    from app.messaging.channels import Channel
    from app.messaging.models import OutboundMessage
    from app.messaging.service import enqueue_message

    db.session.rollback()
    enqueue_message(  # the first write of the transaction, inside a savepoint (its idempotency guard)
        channel=Channel.EMAIL,
        recipient="x@customer.example",
        body_text="Hello",
        idempotency_key="savepoint-test",
        now=utcnow(),
    )
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(OutboundMessage)) == 0
    with db.session.begin_nested():
        enqueue_message(
            channel=Channel.EMAIL,
            recipient="y@customer.example",
            body_text="Hi",
            idempotency_key="n",
            now=utcnow(),
        )
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(OutboundMessage)) == 0


def test_a_transaction_that_reads_then_writes_waits_for_a_concurrent_writer_instead_of_failing(app):
    """BEGIN at the first SELECT would make the write fail at once on SQLite once another connection
    committed (WAL snapshot); the transaction begins at its first write and waits its turn."""
    from sqlalchemy import func, insert, select

    from app.db_types import utcnow
    from app.messaging.models import DoNotContactEntry, DoNotContactKind

    table = DoNotContactEntry.__table__

    def entry(value):
        return {"kind": DoNotContactKind.EMAIL, "value": value, "source": "test", "created_at": utcnow()}

    with db.engine.connect() as first, db.engine.connect() as second:
        assert first.scalar(select(func.count()).select_from(table)) == 0
        second.execute(insert(table), entry("a@x.example"))
        second.commit()
        first.execute(insert(table), entry("b@x.example"))
        first.commit()
    assert db.session.scalar(select(func.count()).select_from(table)) == 2
