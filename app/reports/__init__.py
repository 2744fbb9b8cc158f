"""Reports: loss reasons, what sales said next to what customers said, the recovery funnel, competitors,
sales follow-up, callers (insight layer)."""

from app.reports import recovery_views  # noqa: F401 (registers the funnel, competitors and follow-up pages)
from app.reports.views import bp

__all__ = ["bp"]
