"""The organisation customers see: name, logo, brand colour and postal address on survey pages and emails."""

from app.organisation.views import bp

__all__ = ["bp"]
