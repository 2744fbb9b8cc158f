"""Flask's signed-cookie sessions, with the signing serializer built once per set of keys, and each
cookie's signature checked once per process.

Flask builds a new URLSafeTimedSerializer (keys, salt, a JSON round trip to check the serializer) on
every request that opens or saves a session: a sixth of a bare page's time. The serializer keeps no
state between calls, so one per key set is shared; a changed SECRET_KEY or SECRET_KEY_FALLBACKS gets
its own.

A browser sends the same cookie on every page until the session changes, and checking its signature
and decoding it is a tenth of a survey page's time. The outcome depends only on the cookie's exact
text and the serializer (its keys), so a verified cookie's payload and signing time are kept, keyed
by both; the age limit is checked again on every request, and each request gets its own copy of the
data. Cookies, signatures and expiry are Flask's own.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature, URLSafeTimedSerializer

VERIFIED_COOKIES_KEPT = 10_000  # about 2 MB; the oldest half is forgotten when full


class CachedSerializerSessionInterface(SecureCookieSessionInterface):
    def __init__(self) -> None:
        self._serializers: dict[tuple, URLSafeTimedSerializer | None] = {}
        self._verified: dict[tuple[int, str], tuple[Any, int]] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        fallbacks = app.config["SECRET_KEY_FALLBACKS"]
        key = (app.secret_key, tuple(fallbacks) if fallbacks else ())
        serializer = self._serializers.get(key)
        if serializer is None:
            serializer = super().get_signing_serializer(app)
            if len(self._serializers) > 8:  # keys rotated many times in one process: start over
                self._serializers.clear()
                self._verified.clear()
            self._serializers[key] = serializer
        return serializer

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        cookie = request.cookies.get(self.get_cookie_name(app))
        if not cookie:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        key = (id(serializer), cookie)
        verified = self._verified.get(key)
        if verified is None:
            try:
                data, signed_at = serializer.loads(cookie, max_age=max_age, return_timestamp=True)
            except BadSignature:
                return self.session_class()
            verified = self._remember(key, data, int(signed_at.timestamp()))
        data, signed_at = verified
        if serializer.signer(serializer.secret_keys[-1]).get_timestamp() - signed_at > max_age:
            return self.session_class()  # expired since it was first checked
        return self.session_class(_copied(data))

    def save_session(self, app: Flask, session: SecureCookieSession, response: Response) -> None:
        """Flask's, without working out the cookie's settings when an unchanged session sets no cookie."""
        if session and not self.should_set_cookie(app, session):
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)

    def _remember(self, key: tuple[int, str], data: Any, signed_at: int) -> tuple[Any, int]:
        if len(self._verified) >= VERIFIED_COOKIES_KEPT:
            for old in list(self._verified)[: VERIFIED_COOKIES_KEPT // 2]:
                del self._verified[old]
        self._verified[key] = (data, signed_at)
        return data, signed_at


def _copied(value: Any) -> Any:
    """A copy of a session's data for one request: its dicts, lists and tuples new, the rest (strings,
    numbers and the other values Flask's tagged JSON gives back) immutable and shared."""
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_copied(item) for item in value)
    return value


def install_session_interface(app: Flask) -> None:
    app.session_interface = CachedSerializerSessionInterface()
