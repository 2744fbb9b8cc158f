"""Flask's signed-cookie sessions, with the signing serializer built once per set of keys.

Flask builds a new URLSafeTimedSerializer (keys, salt, a JSON round trip to check the serializer) on
every request that opens or saves a session: a sixth of a bare page's time. The serializer keeps no
state between calls, so one per key set is shared; a changed SECRET_KEY or SECRET_KEY_FALLBACKS gets
its own. Cookies, signatures and expiry are Flask's own.
"""

from __future__ import annotations

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer


class CachedSerializerSessionInterface(SecureCookieSessionInterface):
    def __init__(self) -> None:
        self._serializers: dict[tuple, URLSafeTimedSerializer | None] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        fallbacks = app.config["SECRET_KEY_FALLBACKS"]
        key = (app.secret_key, tuple(fallbacks) if fallbacks else ())
        serializer = self._serializers.get(key)
        if serializer is None:
            serializer = super().get_signing_serializer(app)
            if len(self._serializers) > 8:  # keys rotated many times in one process: start over
                self._serializers.clear()
            self._serializers[key] = serializer
        return serializer


def install_session_interface(app: Flask) -> None:
    app.session_interface = CachedSerializerSessionInterface()
