"""The organisation customers see: name, logo, brand colour and postal address on survey pages and emails."""

from __future__ import annotations

from flask import Flask

from app.organisation.views import bp

__all__ = ["bp", "init_app"]


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
