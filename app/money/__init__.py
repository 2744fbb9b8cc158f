"""Money in one reporting currency: the admin's currency and monthly exchange rates, and conversion."""

from __future__ import annotations

from flask import Flask

from app.money.views import bp

__all__ = ["bp", "init_app"]


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
