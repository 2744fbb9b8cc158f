"""Accounts, contacts, opportunities: what came from the CRM and goes back to it."""

from app.crm.views import bp

__all__ = ["bp"]
