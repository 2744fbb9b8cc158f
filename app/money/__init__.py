"""Money in one reporting currency: the admin's currency and monthly exchange rates, and conversion."""

from app.money.views import bp

__all__ = ["bp"]
