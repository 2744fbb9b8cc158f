"""Reports: loss reasons, what sales said next to what customers said, the funnel, callers (insight layer)."""

from app.reports.views import bp

__all__ = ["bp"]
