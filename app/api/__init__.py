"""The JSON push API for CRMs."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The push API, its tokens page (linked from the imports' menu) and `flask api-tokens`."""
    from app.api import token_views
    from app.api.cli import api_tokens_cli
    from app.api.views import bp
    from app.auth.menu import add_link

    app.register_blueprint(bp)
    app.register_blueprint(token_views.bp)
    app.cli.add_command(api_tokens_cli)
    add_link(app, "imports", "API tokens", "api_tokens.api_tokens")
