"""The outbox: every email and SMS is a row first, delivered by a worker after commit."""

from app.messaging.views import bp

__all__ = ["bp"]
