"""The JSON push API for CRMs."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The push API and `flask api-tokens`."""
    from app.api.cli import api_tokens_cli
    from app.api.views import bp

    app.register_blueprint(bp)
    app.cli.add_command(api_tokens_cli)
