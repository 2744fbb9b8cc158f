"""What every request goes through, made cheap: the limiter's hooks only where a limit applies, the
session's signing serializer kept, the security headers added without overriding a view's own."""

from __future__ import annotations

import time

from flask import Response, session

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


def _session_app(make_app):
    app = make_app()

    @app.get("/session-test/<value>")
    @public
    def remember(value: str):
        seen = session.setdefault("seen", [])
        seen.append(value)  # changed in place: the next request must not see it unless it was saved
        if value != "keep":
            session.modified = False
        return ",".join(seen)

    return app


def test_a_verified_cookie_gives_each_request_its_own_copy(make_app):
    app = _session_app(make_app)
    client = app.test_client()
    assert client.get("/session-test/keep").text == "keep"
    assert client.get("/session-test/a").text == "keep,a"
    assert client.get("/session-test/b").text == "keep,b"  # "a" was never saved


def test_a_verified_cookie_expires_and_a_forged_one_is_refused(make_app, monkeypatch):
    app = _session_app(make_app)
    client = app.test_client()
    client.get("/session-test/keep")
    assert client.get("/session-test/x").text == "keep,x"  # checked and remembered
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    client.set_cookie(cookie.key, cookie.value[:-2] + ("AA" if cookie.value[-2:] != "AA" else "BB"))
    assert client.get("/session-test/y").text == "y"  # a changed signature starts a new session
    client.set_cookie(cookie.key, cookie.value)
    lifetime = int(app.permanent_session_lifetime.total_seconds())
    later = time.time() + lifetime + 5
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    assert client.get("/session-test/z").text == "z"  # remembered, but too old now


def test_the_csrf_check_runs_once_for_guarded_methods_and_keeps_exemptions(make_app):
    from app.extensions import csrf

    app = make_app(WTF_CSRF_ENABLED=True)
    hooks = app.before_request_funcs[None]
    assert [hook.__name__ for hook in hooks].count("check_csrf") == 1
    assert not any(hook.__module__ == "flask_wtf.csrf" for hook in hooks)

    @app.route("/csrf-test", methods=["GET", "POST"])
    @public
    def guarded():
        return "ok"

    @app.post("/csrf-exempt-test")
    @public
    @csrf.exempt
    def exempt():
        return "ok"

    client = app.test_client()
    assert client.get("/csrf-test").status_code == 200
    assert client.post("/csrf-test").status_code == 400  # no token
    assert client.post("/csrf-exempt-test").status_code == 200
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    assert client.post("/csrf-test").status_code == 200


def test_each_hook_is_asked_once_whether_it_is_a_coroutine(make_app, monkeypatch):
    import flask.app

    other = make_app()
    calls, asked = [], []
    original = flask.app.iscoroutinefunction

    @other.before_request
    def count_requests():
        calls.append(1)

    def counting(func):
        asked.append(func)
        return original(func)

    monkeypatch.setattr(flask.app, "iscoroutinefunction", counting)
    client = other.test_client()
    for _ in range(3):
        assert client.get("/login").status_code == 200
    assert len(calls) == 3  # the hook still runs on every request
    assert asked.count(count_requests) == 1  # decided on the first request, remembered after
    assert asked  # Flask still asks, once per hook and view
