"""Campaigns: targeting, enrollment and suppression, the call queue."""

from campaigns.cli import campaigns_cli
from campaigns.signals import connect_signals
from campaigns.views import bp

__all__ = ["bp", "campaigns_cli", "connect_signals"]
