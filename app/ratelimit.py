"""Rate limits for hot public pages, and a memory store that needs no timer thread per hit.

Flask-Limiter's decorators resolve and filter their limits on every request; on the survey pages that
bookkeeping cost more than the page itself. `enforce` hits the same limiter, storage and strategy
directly. `InlineExpiryMemoryStorage` (scheme `winback-memory://`, the default store) expires old
counters inline at most once a second, where limits' MemoryStorage starts a thread after most hits.
"""

from __future__ import annotations

import time
from functools import lru_cache

from flask import abort, current_app, request
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage

from app.extensions import limiter


class InlineExpiryMemoryStorage(MemoryStorage):
    STORAGE_SCHEME = ["winback-memory"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.timer.cancel()
        self._last_expiry = time.monotonic()

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces the parent's private hook
        now = time.monotonic()
        if now - self._last_expiry >= 1.0:
            self._last_expiry = now
            self._MemoryStorage__expire_events()


@lru_cache(maxsize=32)
def _parsed(limit: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(limit))


def enforce(limit: str, scope: str, key: str) -> None:
    """Count one hit of `key` under `limit` (e.g. "60 per minute"); answer 429 when it is spent."""
    if not current_app.config.get("RATELIMIT_ENABLED", True) or not limiter.enabled:
        return
    strategy = limiter.limiter
    for item in _parsed(limit):
        if not strategy.hit(item, scope, key):
            abort(429)


# Blueprints whose views count their own hits with `enforce`: Flask-Limiter's before-request check,
# which resolves and filters limits for every request, is skipped for them (a tenth of a survey page).
SELF_LIMITED_BLUEPRINTS = frozenset({"survey_public"})


@limiter.request_filter
def _limits_enforced_by_the_view() -> bool:
    return request.blueprint in SELF_LIMITED_BLUEPRINTS
