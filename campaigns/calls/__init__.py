"""The call queue: tasks and attempts, filling and claiming, calling hours, dialing, dispositions."""

from campaigns.calls.cli import calls_cli
from campaigns.calls.views import bp

__all__ = ["bp", "calls_cli"]
