"""GET /healthz for load balancers and monitoring."""

from app.health.views import bp

__all__ = ["bp"]
