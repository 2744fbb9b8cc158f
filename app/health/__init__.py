"""GET /healthz for load balancers and monitoring."""

from __future__ import annotations

from flask import Flask

from app.health.views import bp

__all__ = ["bp", "init_app"]


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
