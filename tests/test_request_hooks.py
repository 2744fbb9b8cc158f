"""What every request goes through, made cheap: the limiter's hooks only where a limit applies, the
session's signing serializer kept, the security headers added without overriding a view's own."""

from __future__ import annotations

from flask import Response

from app.auth.guard import public
from app.extensions import db
from app.security import SECURITY_HEADERS
from app.sessions import CachedSerializerSessionInterface


def test_limit_headers_come_with_limited_routes_only(make_app):
    from app.api.service import create_token
    from app.db_types import utcnow

    limited = make_app(RATELIMIT_ENABLED=True, API_RATE_LIMIT="5 per minute")
    with limited.app_context():
        _, secret = create_token("hooks-test", now=utcnow())
        db.session.commit()
    client = limited.test_client()
    api = client.get("/api/v1/opportunities", headers={"Authorization": f"Bearer {secret}"})
    assert api.headers["X-RateLimit-Limit"] == "5"
    assert api.headers["X-RateLimit-Remaining"] == "4"
    page = client.get("/login")
    assert page.status_code == 200
    assert "X-RateLimit-Limit" not in page.headers
    assert page.headers["Content-Security-Policy"] == SECURITY_HEADERS["Content-Security-Policy"]


def test_a_views_own_security_header_is_kept(make_app):
    app = make_app()

    @app.get("/framed-test")
    @public
    def framed():
        return Response("ok", headers={"x-frame-options": "SAMEORIGIN"})

    response = app.test_client().get("/framed-test")
    assert response.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_session_serializer_is_built_once_per_secret_key(make_app):
    app = make_app()
    interface = app.session_interface
    assert isinstance(interface, CachedSerializerSessionInterface)
    first = interface.get_signing_serializer(app)
    assert interface.get_signing_serializer(app) is first
    signed = first.dumps({"a": 1})
    app.secret_key = "another-secret-key-for-this-test"
    rotated = interface.get_signing_serializer(app)
    assert rotated is not first
    assert rotated.loads(rotated.dumps({"a": 1})) == {"a": 1}
    app.config["SECRET_KEY_FALLBACKS"] = [first.secret_keys[-1]]
    assert interface.get_signing_serializer(app).loads(signed) == {"a": 1}  # the old key still reads
