"""The demo data set for the tests, loaded once per session by `flask demo load` and copied, not reloaded.

A load takes seconds; a copy of the loaded database takes milliseconds on SQLite (the file, through
SQLite's backup API) and about a second on PostgreSQL (`CREATE DATABASE ... TEMPLATE`). A test that asks
for `demo` runs against the demo app: its `app`, `client`, `runner` and `db.session` see a copy of the
demo database that the tests of one module share, so they only read it (signing in is fine). A test that
changes the demo data asks for `own_demo`: a copy of its own, put back before another test reads it.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask, current_app, has_app_context
from flask_migrate import upgrade
from sqlalchemy import create_engine, make_url, text

from app import create_app
from app.extensions import db
from config import TestingConfig


@dataclass(frozen=True)
class DemoLoad:
    """What `flask demo load` printed, and the logins it printed, by role: {"admin": (email, password)}."""

    output: str
    logins: dict[str, tuple[str, str]]


class DemoDatabase:
    """The working copy the demo app uses, and the pristine template it is copied back from."""

    def __init__(self, base_url: str, folder: Path) -> None:
        self.base_url = base_url
        self.pristine = True
        if base_url.startswith("postgresql"):
            name = make_url(base_url).database
            self.url = make_url(base_url).set(database=f"{name}_demo").render_as_string(hide_password=False)
            self.template = f"{name}_demo_template"
        else:
            self.url = f"sqlite:///{folder / 'demo.sqlite3'}"
            self.template = str(folder / "demo-template.sqlite3")

    @property
    def is_postgresql(self) -> bool:
        return self.url.startswith("postgresql")

    def create_empty(self) -> None:
        if self.is_postgresql:
            self._admin(self._drop(self.template), self._drop(self._name), self._create())

    def save_template(self, app: Flask) -> None:
        """Keep the loaded database as the template every copy is made from."""
        _close_connections(app)
        if self.is_postgresql:
            self._admin(f"CREATE DATABASE {self.template} TEMPLATE {self._name}")
        else:
            _sqlite_backup(self._path, self.template)

    def restore(self, app: Flask) -> None:
        """Put the working copy back as the template has it, if a test may have changed it since."""
        if self.pristine:
            return
        _close_connections(app)
        if self.is_postgresql:
            self._admin(self._drop(self._name), self._create(template=self.template))
        else:
            _sqlite_backup(self.template, self._path)
        self.pristine = True

    def drop(self) -> None:
        if self.is_postgresql:
            self._admin(self._drop(self._name), self._drop(self.template))

    @property
    def _name(self) -> str:
        return make_url(self.url).database

    @property
    def _path(self) -> str:
        return self.url.removeprefix("sqlite:///")

    def _create(self, template: str | None = None) -> str:
        return f"CREATE DATABASE {self._name}" + (f" TEMPLATE {template}" if template else "")

    @staticmethod
    def _drop(name: str) -> str:
        return f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"

    def _admin(self, *statements: str) -> None:
        """CREATE and DROP DATABASE run outside a transaction, from the tests' own database."""
        engine = create_engine(self.base_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
        engine.dispose()


def _close_connections(app: Flask) -> None:
    """Close every connection to the working copy, the running test's included, before it is replaced."""
    if has_app_context() and current_app._get_current_object() is app:
        db.session.remove()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _sqlite_backup(source: str, target: str) -> None:
    """Copy a SQLite database page by page (WAL included), which a file copy would not do safely."""
    for leftover in (f"{target}-wal", f"{target}-shm"):
        Path(leftover).unlink(missing_ok=True)
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def _parse_logins(output: str) -> dict[str, tuple[str, str]]:
    logins = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 3 and "@winback.demo" in parts[1]:
            logins[parts[0]] = (parts[1], parts[2])
    return logins


@pytest.fixture(scope="session")
def demo_database(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoDatabase]:
    database = DemoDatabase(database_url, tmp_path_factory.mktemp("demo-db"))
    database.create_empty()
    yield database
    database.drop()


@pytest.fixture(scope="session")
def demo_app(
    base_app: Flask, demo_database: DemoDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Flask, DemoLoad]]:
    """The demo app on its own database, loaded once by `flask demo load` exactly as a user would."""

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = demo_database.url
        INSTANCE_DIR = str(tmp_path_factory.mktemp("demo-instance"))

    application = create_app(Config)
    application.test_client_class = base_app.test_client_class
    with application.app_context():
        upgrade(revision="heads")
        result = application.test_cli_runner().invoke(args=["demo", "load"])
        assert result.exit_code == 0, result.output
    demo_database.save_template(application)
    yield application, DemoLoad(result.output, _parse_logins(result.output))
    _close_connections(application)
    shutil.rmtree(Config.INSTANCE_DIR, ignore_errors=True)


@pytest.fixture(scope="module")
def _demo_for_module(demo_app: tuple[Flask, DemoLoad], demo_database: DemoDatabase) -> Iterator[DemoLoad]:
    """One copy per module: a module's tests may sign in and read; the next module gets a fresh copy."""
    yield demo_app[1]
    demo_database.pristine = False


@pytest.fixture
def demo(
    _demo_for_module: DemoLoad, demo_app: tuple[Flask, DemoLoad], demo_database: DemoDatabase
) -> DemoLoad:
    """The demo data set, shared read-only by the module's tests (`app`, `client`, `runner` use it)."""
    demo_database.restore(demo_app[0])  # only if an earlier module, or an `own_demo` test, changed it
    return _demo_for_module


@pytest.fixture
def own_demo(
    _demo_for_module: DemoLoad, demo_app: tuple[Flask, DemoLoad], demo_database: DemoDatabase
) -> Iterator[DemoLoad]:
    """A copy of the demo data set for one test that changes it; put back before the next test reads it."""
    demo_database.restore(demo_app[0])
    yield _demo_for_module
    demo_database.pristine = False
