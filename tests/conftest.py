"""Fixtures after the Flask tutorial: app, client, runner, and callable factories.

The schema is built once per session by the real migrations; every test then starts on empty tables
(TRUNCATE on PostgreSQL, DELETE on SQLite), on both databases. Set TEST_DATABASE_URL to run the
suite on PostgreSQL. A test that asks for `demo` runs on a copy of the demo data set instead
(tests/demo_database.py).
"""

from __future__ import annotations

import contextvars
import gc
import itertools
import os
import time
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask, has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError

from app import create_app
from app.auth.models import Role, User
from app.auth.service import create_user
from app.crm.models import Account, Contact, Opportunity
from app.extensions import db, limiter
from config import TestingConfig

pytest_plugins = ["tests.demo_database"]
DEMO_FIXTURES = frozenset({"demo", "own_demo"})  # tests/demo_database.py

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# Each test builds short-lived reference cycles (app and request contexts, sessions, ORM graphs). Python's
# default first threshold (700 allocations) examines them while they are still in use and promotes them
# to the old generation, where only full collections free them: 23 full collections of a large heap took
# 8.9 of the 11 s of GC in tests/reports and tests/coding. Collecting the young generation every 50,000
# allocations lets them die young: 5.0 s of GC there, a few percent more peak memory (424 -> 448 MB).
gc.set_threshold(50_000, 10, 10)
PASSWORD = "correct horse battery"


class IsolatedClient(FlaskClient):
    """Run each request in a context of its own, as a real server would: a fresh `g` and session.

    Without it the request would share the test's app context, so Flask-Login's cached user and
    the session's identity map would leak from one request to the next.
    """

    def open(self, *args, **kwargs):
        response = contextvars.Context().run(super().open, *args, **kwargs)
        if has_app_context():  # redirects come back here from inside the request's own context
            db.session.expire_all()  # the test sees what the request committed
        return response


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A run that ran no test fails (exit 1), never exits 5: a filter that matches nothing is a mistake."""
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _reset_database(url: str) -> None:
    """Start the session on an empty database: drop whatever an earlier run left."""
    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()


def worker_database_url(url: str, worker: str | None) -> str:
    """The database of one pytest-xdist worker (`gw0`, `gw1`...): TEST_DATABASE_URL's name plus the
    worker id, created from the given database when missing. Without xdist, the given database itself.
    (SQLite needs nothing: each worker has a temporary folder of its own.)"""
    if not worker or worker == "master" or not url.startswith("postgresql"):
        return url
    base = make_url(url)
    name = f"{base.database}_{worker}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        exists = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name})
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        url = worker_database_url(url, os.environ.get("PYTEST_XDIST_WORKER"))
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'winback-test.sqlite3'}"
    _reset_database(url)
    return url


@pytest.fixture(scope="session")
def base_app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = database_url
        INSTANCE_DIR = str(tmp_path_factory.mktemp("instance"))

    application = create_app(Config)
    application.test_client_class = IsolatedClient
    with application.app_context():
        upgrade(revision="heads")
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(request: pytest.FixtureRequest, base_app: Flask) -> Flask:
    """The test app; for a test that asks for the demo data set, the demo app on its copy of it."""
    if DEMO_FIXTURES.intersection(request.fixturenames):
        demo_app, _ = request.getfixturevalue("demo_app")
        return demo_app
    return base_app


@pytest.fixture
def make_app(app: Flask) -> Iterator[Callable[..., Flask]]:
    """Another app like the test app with some settings changed; its connections are closed after.

    Flask-Limiter keeps one `enabled` flag for every app it was initialised with (the last init wins):
    it is put back afterwards, or a rate-limited app would go on limiting the tests that follow.
    """
    made: list[Flask] = []
    limiter_enabled = limiter.enabled

    def factory(**overrides) -> Flask:
        settings = dict(app.config)
        settings.update(overrides)
        other = create_app(settings)
        other.test_client_class = app.test_client_class
        made.append(other)
        return other

    yield factory
    for other in made:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()
    limiter.enabled = limiter_enabled


def _empty_all_tables() -> None:
    tables = [table.name for table in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        _truncate(tables)
        return
    _empty_sqlite_tables(tables)


def _empty_sqlite_tables(tables: list[str]) -> None:
    """DELETE every row with foreign keys off: SQLite then empties each table at once, where with them on it
    checks every deleted row's references, and a self-reference without an index (opportunities recycled
    from opportunities) is a scan per row: 14 s for 7,000 deals. The pragma works only outside a
    transaction, so this takes a connection of its own; every table ends empty, so no reference dangles."""
    db.session.remove()
    connection = db.engine.raw_connection()
    cursor = connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys = OFF")
        cursor.execute("BEGIN IMMEDIATE")
        for table in tables:
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608 (names from our metadata)
        cursor.execute("COMMIT")
    finally:
        if connection.dbapi_connection.in_transaction:
            cursor.execute("ROLLBACK")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()
        connection.close()


def _truncate(tables: list[str], attempts: int = 5) -> None:
    """TRUNCATE every table; a browser test's last request may still hold a lock, so a deadlock the
    server breaks by cancelling the TRUNCATE is retried."""
    for attempt in range(attempts):
        try:
            db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            db.session.commit()
            return
        except OperationalError:
            db.session.rollback()
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


@pytest.fixture(autouse=True)
def _clean_tables(app: Flask, base_app: Flask) -> Iterator[None]:
    with app.app_context():
        yield
        db.session.rollback()
        if app is base_app:  # the demo's copy is put back from its template instead
            _empty_all_tables()
        db.session.remove()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


@pytest.fixture
def make_user() -> Callable[..., User]:
    counter = itertools.count(1)

    def factory(role: Role = Role.ADMIN, **overrides) -> User:
        n = next(counter)
        email = overrides.pop("email", f"{role.value}{n}@example.com")
        user = create_user(email, overrides.pop("password", PASSWORD), role, **overrides)
        db.session.commit()
        return user

    return factory


@pytest.fixture
def login(client: FlaskClient) -> Callable[[User], FlaskClient]:
    def do_login(user: User, password: str = PASSWORD) -> FlaskClient:
        response = client.post("/login", data={"email": user.email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return do_login


@pytest.fixture
def make_account() -> Callable[..., Account]:
    counter = itertools.count(1)

    def factory(**fields) -> Account:
        n = next(counter)
        values = {
            "crm_source": "salesforce",
            "crm_id": f"001T{n:05d}",
            "name": f"Account {n}",
            "segment": "Mid-Market",
            "region": "Central",
            "country": "US",
            "industry": "retail",
        }
        values.update(fields)
        account = Account(**values)
        db.session.add(account)
        db.session.commit()
        return account

    return factory


@pytest.fixture
def make_contact(make_account) -> Callable[..., Contact]:
    counter = itertools.count(1)

    def factory(account: Account | None = None, **fields) -> Contact:
        n = next(counter)
        values = {
            "first_name": "Pat",
            "last_name": f"Doe{n}",
            "email": f"pat{n}@customer.example",
            "phone": f"+1415555{n % 10000:04d}",
            "crm_id": f"003T{n:05d}",
        }
        values.update(fields)
        contact = Contact(account=account or make_account(), **values)
        db.session.add(contact)
        db.session.commit()
        return contact

    return factory


@pytest.fixture
def make_opportunity(make_account) -> Callable[..., Opportunity]:
    counter = itertools.count(1)

    def factory(account: Account | None = None, **fields) -> Opportunity:
        n = next(counter)
        values = {
            "crm_source": "salesforce",
            "crm_id": f"006T{n:05d}",
            "name": f"Deal {n}",
            "stage": "Closed Lost",
            "is_closed": True,
            "is_won": False,
            "amount": Decimal("12500.00"),
            "currency": "USD",
            "close_date": date(2026, 10, 1),
        }
        values.update(fields)
        opportunity = Opportunity(account=account or make_account(), **values)
        db.session.add(opportunity)
        db.session.commit()
        return opportunity

    return factory


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the public sample data is not beside the project ({SHARED_DATA})")
    return SHARED_DATA
