"""Rate limits: the hot public pages' own check, sign-in limits and backoff, and a memory store.

Flask-Limiter's decorators resolve and filter their limits on every request; on the survey pages that
bookkeeping cost more than the page itself. `enforce` hits the same limiter, storage and strategy
directly. Every count lives in the limiter's storage: in-process memory by default, shared by every
worker and host when `RATELIMIT_STORAGE_URI` names a shared store (redis://...).

`InlineExpiryMemoryStorage` (scheme `winback-memory://`, the default store) is a fixed-window counter
store built on the public `limits.storage.Storage` interface only: it expires old counters inline at
most once a second, where limits' MemoryStorage starts a timer thread after most hits.
"""

from __future__ import annotations

import os
import shlex
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path

from flask import Flask, abort, current_app, request
from flask_limiter.util import get_qualified_name, get_remote_address
from limits import RateLimitItem, parse_many
from limits.storage import Storage

from app.extensions import limiter


class InlineExpiryMemoryStorage(Storage):
    """Fixed-window counters in this process's memory (the strategy Flask-Limiter uses by default)."""

    STORAGE_SCHEME = ["winback-memory"]

    def __init__(
        self,
        uri: str | None = None,
        wrap_exceptions: bool = False,
        clock: Callable[[], float] = time.time,
        **options: str,
    ) -> None:
        self._clock = clock
        self._counts: dict[str, int] = {}
        self._expiries: dict[str, float] = {}
        self._lock = threading.Lock()
        self._last_sweep = clock()
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:  # pragma: no cover
        return ValueError

    def _expire(self, key: str, now: float) -> None:
        if self._expiries.get(key, 0) <= now:
            self._counts.pop(key, None)
            self._expiries.pop(key, None)

    def _sweep(self, now: float) -> None:
        """Drop every expired counter, at most once a second (keys never hit again would pile up)."""
        if now - self._last_sweep < 1.0:
            return
        self._last_sweep = now
        for key in [k for k, expiry in self._expiries.items() if expiry <= now]:
            self._counts.pop(key, None)
            self._expiries.pop(key, None)

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = self._clock()
        with self._lock:
            self._sweep(now)
            self._expire(key, now)
            if key not in self._counts:
                self._counts[key] = 0
                self._expiries[key] = now + expiry
            self._counts[key] += amount
            return self._counts[key]

    def get(self, key: str) -> int:
        with self._lock:
            self._expire(key, self._clock())
            return self._counts.get(key, 0)

    def get_expiry(self, key: str) -> float:
        with self._lock:
            return self._expiries.get(key, self._clock())

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self._lock:
            count = len(self._counts)
            self._counts.clear()
            self._expiries.clear()
            return count

    def clear(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)
            self._expiries.pop(key, None)

    def __len__(self) -> int:
        return len(self._counts)


@lru_cache(maxsize=32)
def _parsed(limit: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(limit))


def limits_on() -> bool:
    return bool(current_app.config.get("RATELIMIT_ENABLED", True) and limiter.enabled)


def enforce(limit: str, scope: str, key: str) -> None:
    """Count one hit of `key` under `limit` (e.g. "60 per minute"); answer 429 when it is spent."""
    if not limits_on():
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


def _limiter_hooks(app: Flask) -> tuple[Callable, Callable, Callable]:
    """Flask-Limiter's before-request check, after-request headers and teardown, as it registered them."""
    check = limiter._check_request_limit
    headers = next(f for f in app.after_request_funcs[None] if getattr(f, "args", None) == (limiter,))
    release = limiter._Limiter__release_context  # type: ignore[attr-defined]
    return check, headers, release


def _declares_limits(app: Flask, endpoint: str | None, blueprint: str | None) -> bool:
    """Whether any limit Flask-Limiter holds could apply to this endpoint: its own (decorated or hinted),
    its blueprint's or an ancestor blueprint's. Application, default and meta limits apply everywhere."""
    manager = limiter.limit_manager
    if manager._application_limits or manager._default_limits or any(limiter._meta_limits):
        return True
    view = app.view_functions.get(endpoint or "")
    name = get_qualified_name(view) if view else ""
    if name in limiter._marked_for_limiting or name in manager._decorated_limits:
        return True
    if manager.has_hints(endpoint or ""):
        return True
    return any(part in manager._blueprint_limits for part in (blueprint or "").split(".") if part)


def gate_limiter_hooks(app: Flask) -> None:
    """Run Flask-Limiter's three per-request hooks only where a limit may apply.

    For a route without limits its check resolves, filters and evaluates nothing, yet cost a fifth of a
    bare page. Whether an endpoint has limits is settled by the time it is first requested (decorators
    run at import, configured limits at init_app), so the answer is kept per endpoint; while the storage
    is down (the in-memory fallback's limits apply everywhere) every request is checked.
    """
    if limiter._check_request_limit not in app.before_request_funcs.get(None, []):
        return  # limits are off for this app: Flask-Limiter registered no hooks
    check, headers, release = _limiter_hooks(app)
    known: dict[str | None, bool] = {}

    def applies() -> bool:
        endpoint = request.endpoint
        found = known.get(endpoint)
        if found is None:  # an endpoint's blueprint is the part of its name before the last dot
            blueprint = endpoint.rpartition(".")[0] if endpoint else None
            found = known[endpoint] = _declares_limits(app, endpoint, blueprint)
        return found or limiter._storage_dead

    def check_declared_limits() -> None:
        if applies():
            request.environ["winback.limits_checked"] = True
            check()

    def limit_headers(response):
        return headers(response) if request.environ.get("winback.limits_checked") else response

    def release_limits(error: BaseException | None = None) -> None:
        if request.environ.get("winback.limits_checked"):
            release(error)

    for hooks, old, new in (
        (app.before_request_funcs[None], check, check_declared_limits),
        (app.after_request_funcs[None], headers, limit_headers),
        (app.teardown_request_funcs[None], release, release_limits),
    ):
        hooks[hooks.index(old)] = new


# Per-account sign-in backoff: the address limit alone lets an attacker spread guesses over many
# addresses, and behind a proxy every user shares one address. After LOGIN_ACCOUNT_FREE_ATTEMPTS
# failures for an email (known or not, so the lock reveals nothing), each failure locks it for twice
# as long as the one before, up to LOGIN_ACCOUNT_MAX_LOCK_SECONDS.
_FAILURES_WINDOW_SECONDS = 24 * 3600
_BACKOFF_BASE_SECONDS = 5


def backoff_seconds(failures: int, *, free: int, ceiling: int) -> int:
    """Seconds an account is locked after its n-th failure: 0 while free, then 5 s doubling to the ceiling."""
    excess = failures - free
    if excess <= 0:
        return 0
    return min(_BACKOFF_BASE_SECONDS * 2 ** min(excess - 1, 30), ceiling)


def _account_keys(email: str) -> tuple[str, str]:
    account = email.strip().lower()[:254]
    return f"winback/login-failures/{account}", f"winback/login-lock/{account}"


def account_locked_for(email: str) -> int:
    """Seconds until this account may try to sign in again (0: it may now)."""
    if not limits_on():
        return 0
    _, lock_key = _account_keys(email)
    storage = limiter.storage
    if storage.get(lock_key) <= 0:
        return 0
    return max(1, int(storage.get_expiry(lock_key) - time.time() + 0.999))


def record_failed_sign_in(email: str) -> int:
    """Count a failed sign-in of this account; the seconds it is now locked for (0: not locked)."""
    if not limits_on():
        return 0
    failures_key, lock_key = _account_keys(email)
    storage = limiter.storage
    failures = storage.incr(failures_key, _FAILURES_WINDOW_SECONDS)
    seconds = backoff_seconds(
        failures,
        free=current_app.config["LOGIN_ACCOUNT_FREE_ATTEMPTS"],
        ceiling=current_app.config["LOGIN_ACCOUNT_MAX_LOCK_SECONDS"],
    )
    if not seconds:
        return 0
    storage.clear(lock_key)
    storage.incr(lock_key, seconds)
    return seconds


def record_sign_in(email: str) -> None:
    """A successful sign-in forgets the account's failures."""
    if not limits_on():
        return
    for key in _account_keys(email):
        limiter.storage.clear(key)


# Sign-in limits. An office or a call centre signs in from one address, often all at 9:00: counting by
# address alone locked it out. The route limit counts per account at an address (LOGIN_RATE_LIMIT); a
# looser one per address (LOGIN_ADDRESS_RATE_LIMIT) bounds one address spraying guesses over many
# accounts; the account backoff above stops guessing one account's password from anywhere.
def sign_in_address() -> str:
    return get_remote_address()


def sign_in_account_and_address() -> str:
    email = (request.form.get("email") or "").strip().lower()[:254]
    return f"{get_remote_address()}/{email}"


# Stores that live in one process's memory: with several web processes each counts on its own, so a
# limit of 10 becomes 10 per process.
_PER_PROCESS_STORES = ("memory://", "winback-memory://")


def web_processes(environ: Mapping[str, str], argv: Sequence[str]) -> int:
    """How many web processes gunicorn will start (--workers, GUNICORN_CMD_ARGS, WEB_CONCURRENCY)."""
    args = [*shlex.split(environ.get("GUNICORN_CMD_ARGS", ""))]
    if argv and Path(argv[0]).name.startswith("gunicorn"):
        args += list(argv[1:])
    workers = environ.get("WEB_CONCURRENCY", "1")
    for index, arg in enumerate(args):
        if arg in ("-w", "--workers") and index + 1 < len(args):
            workers = args[index + 1]
        elif arg.startswith("--workers="):
            workers = arg.split("=", 1)[1]
        elif arg.startswith("-w") and len(arg) > 2:
            workers = arg[2:]
    return int(workers) if workers.isascii() and workers.isdigit() else 1


def warn_about_a_per_process_store(
    app: Flask, *, environ: Mapping[str, str] = os.environ, argv: Sequence[str] = sys.argv
) -> None:
    """Log a warning at start when several web processes would each keep their own rate-limit counts."""
    uri = app.config.get("RATELIMIT_STORAGE_URI") or "memory://"
    processes = web_processes(environ, argv)
    if processes > 1 and uri.startswith(_PER_PROCESS_STORES) and app.config.get("RATELIMIT_ENABLED", True):
        app.logger.warning(
            "Rate limits are counted in each web process's memory (RATELIMIT_STORAGE_URI=%s) but %d web "
            "processes will run: every limit is %d times looser than set. Point RATELIMIT_STORAGE_URI at a "
            "shared store (redis://...).",
            uri,
            processes,
            processes,
        )
