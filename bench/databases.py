"""A PostgreSQL database of a bench's own, made fresh for a run and dropped after it."""

from __future__ import annotations

import os

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def bench_database_url(bench: str, default_url: str) -> str:
    """`DATABASE_URL`'s server with a `<name>_bench` database; refuse anything but PostgreSQL."""
    base = make_url(os.environ.get("DATABASE_URL") or default_url)
    if not base.drivername.startswith("postgresql"):
        raise SystemExit(f"{bench} needs PostgreSQL (DATABASE_URL=postgresql+psycopg://...)")
    return base.set(database=f"{base.database}_bench").render_as_string(hide_password=False)


def recreate_database(url: str, *, drop_only: bool = False) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        if not drop_only:
            connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
