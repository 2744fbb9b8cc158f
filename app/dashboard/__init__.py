"""The home page: each role's own summary."""

from app.dashboard.views import bp

__all__ = ["bp"]
