"""The audit trail: who did what to which record, when."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The audit table only: services write to it, no page of its own."""
    import app.audit.models  # noqa: F401 (the table, for the metadata and Alembic)
