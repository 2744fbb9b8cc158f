"""Sign-in that can be revoked, limited per account, behind a known number of proxies."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from app.audit.models import AuditEvent
from app.auth import service as auth_service
from app.auth.models import Role, User
from app.auth.service import authenticate
from app.extensions import db
from app.ratelimit import InlineExpiryMemoryStorage
from config import ProductionConfig, check_production_settings
from tests.conftest import PASSWORD


def _sign_in(client, user: User, *, remember: bool = False, password: str = PASSWORD):
    data = {"email": user.email, "password": password}
    if remember:
        data["remember"] = "y"
    return client.post("/login", data=data)


def _copy_cookie(app: Flask, source, name: str):
    """A fresh browser holding only one cookie of another (a leaked or stolen cookie)."""
    other = app.test_client()
    cookie = source.get_cookie(name)
    assert cookie is not None, name
    other.set_cookie(name, cookie.value)
    return other


def test_remember_cookie_changes_after_logout_and_the_old_one_stops_working(app, client, make_user):
    user = make_user(Role.ANALYST)
    assert _sign_in(client, user, remember=True).status_code == 302
    first = client.get_cookie("remember_token").value
    stolen = _copy_cookie(app, client, "remember_token")
    assert stolen.get("/dashboard").status_code == 200  # the cookie signs in on its own
    client.post("/logout")
    assert _copy_cookie_value_client(app, first).get("/dashboard").status_code == 302
    assert _sign_in(client, user, remember=True).status_code == 302
    assert client.get_cookie("remember_token").value != first


def _copy_cookie_value_client(app: Flask, value: str):
    other = app.test_client()
    other.set_cookie("remember_token", value)
    return other


def test_logout_ends_a_copied_session_cookie(app, client, make_user):
    user = make_user(Role.ADMIN)
    _sign_in(client, user)
    copied = _copy_cookie(app, client, "session")
    assert copied.get("/dashboard").status_code == 200
    client.post("/logout")
    response = copied.get("/dashboard")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_changing_ones_password_ends_other_sessions_but_keeps_this_one(app, make_user):
    user = make_user(Role.CALLER)
    laptop, phone = app.test_client(), app.test_client()
    _sign_in(laptop, user)
    _sign_in(phone, user)
    response = laptop.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "a brand new secret",
            "confirm_password": "a brand new secret",
        },
        follow_redirects=True,
    )
    assert "Your password is changed" in response.get_data(as_text=True)
    assert laptop.get("/dashboard").status_code == 200
    assert phone.get("/dashboard").status_code == 302
    assert authenticate(user.email, "a brand new secret") is not None
    assert authenticate(user.email, PASSWORD) is None


def test_changing_ones_password_needs_the_current_one_and_the_same_new_one_twice(client, make_user, login):
    user = make_user(Role.ANALYST)
    login(user)
    wrong = client.post(
        "/account/password",
        data={"current_password": "not my password", "new_password": "x" * 12, "confirm_password": "x" * 12},
    )
    assert wrong.status_code == 200
    assert "The current password is not right" in wrong.get_data(as_text=True)
    differ = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": "x" * 12, "confirm_password": "y" * 12},
    )
    assert "The two new passwords differ" in differ.get_data(as_text=True)
    assert authenticate(user.email, PASSWORD) is not None


def test_cli_deactivates_a_user_and_ends_their_sessions(app, client, runner, make_user):
    user = make_user(Role.CALLER)
    _sign_in(client, user, remember=True)
    remembered = _copy_cookie(app, client, "remember_token")
    result = runner.invoke(args=["users", "deactivate", user.email.upper()])
    assert result.exit_code == 0, result.output
    assert "Deactivated" in result.output
    assert client.get("/dashboard").status_code == 302
    assert remembered.get("/dashboard").status_code == 302
    again = _sign_in(app.test_client(), user)
    assert "do not match an active account" in again.get_data(as_text=True)
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.entity_id == user.id)) == (
        "user.deactivated"
    )
    unknown = runner.invoke(args=["users", "deactivate", "ghost@example.com"])
    assert unknown.exit_code == 1
    assert "No user has the email ghost@example.com" in unknown.output


def test_cli_sets_a_password_and_ends_sessions(app, client, runner, make_user):
    user = make_user(Role.ANALYST)
    _sign_in(client, user)
    result = runner.invoke(
        args=["users", "set-password", user.email], input="fresh password!\nfresh password!\n"
    )
    assert result.exit_code == 0, result.output
    assert client.get("/dashboard").status_code == 302
    assert authenticate(user.email, "fresh password!") is not None
    short = runner.invoke(args=["users", "set-password", user.email, "--password", "short"])
    assert short.exit_code == 1
    assert "at least 10" in short.output


def test_remember_cookie_is_lax_and_secure_in_production(app):
    assert app.config["REMEMBER_COOKIE_SAMESITE"] == "Lax"
    assert ProductionConfig.REMEMBER_COOKIE_SECURE is True
    assert ProductionConfig.SESSION_COOKIE_SECURE is True


def test_remember_cookie_is_sent_samesite_lax(client, make_user):
    _sign_in(client, make_user(Role.ADMIN), remember=True)
    assert client.get_cookie("remember_token").same_site == "Lax"


@pytest.fixture
def limited_app(make_app):
    """Rate limits on (CSRF off, so the account backoff is what refuses)."""
    return make_app(
        RATELIMIT_ENABLED=True,
        LOGIN_RATE_LIMIT="1000 per minute",
        LOGIN_ACCOUNT_FREE_ATTEMPTS=3,
        LOGIN_ACCOUNT_MAX_LOCK_SECONDS=900,
    )


def test_an_account_is_locked_after_failures_from_any_address(limited_app, make_user):
    user = make_user(Role.ADMIN)
    client = limited_app.test_client()
    for n in range(3):  # the free attempts, each from another address
        response = client.post(
            "/login",
            data={"email": user.email, "password": "wrong password"},
            environ_base={"REMOTE_ADDR": f"10.0.0.{n}"},
        )
        assert response.status_code == 200
    # The fourth failure locks the account; even the right password is refused while locked.
    client.post("/login", data={"email": user.email, "password": "wrong password"})
    locked = client.post(
        "/login", data={"email": user.email, "password": PASSWORD}, environ_base={"REMOTE_ADDR": "10.9.9.9"}
    )
    assert locked.status_code == 429
    assert "Too many failed sign-ins for this account. Try again in 5 seconds." in locked.get_data(
        as_text=True
    )
    other = make_user(Role.CALLER)
    assert client.post("/login", data={"email": other.email, "password": PASSWORD}).status_code == 302


def test_each_failure_past_the_free_ones_doubles_the_lock_up_to_the_ceiling():
    from app.ratelimit import backoff_seconds

    waits = [backoff_seconds(n, free=3, ceiling=900) for n in range(1, 15)]
    assert waits == [0, 0, 0, 5, 10, 20, 40, 80, 160, 320, 640, 900, 900, 900]
    assert backoff_seconds(10_000, free=5, ceiling=900) == 900


def test_unknown_emails_are_locked_the_same_way(limited_app):
    client = limited_app.test_client()
    statuses = [
        client.post("/login", data={"email": "ghost@example.com", "password": "guess guess"}).status_code
        for _ in range(5)
    ]
    assert statuses == [200, 200, 200, 200, 429]


def test_a_successful_sign_in_forgets_the_failures(limited_app, make_user):
    user = make_user(Role.ADMIN)
    client = limited_app.test_client()
    for _ in range(2):
        client.post("/login", data={"email": user.email, "password": "wrong password"})
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
    client.post("/logout")
    for _ in range(3):
        assert client.post("/login", data={"email": user.email, "password": "nope"}).status_code == 200


def test_x_forwarded_for_is_ignored_without_a_configured_proxy(make_app):
    limited = make_app(RATELIMIT_ENABLED=True, LOGIN_ADDRESS_RATE_LIMIT="2 per minute", PROXY_COUNT=0)
    client = limited.test_client()
    statuses = [
        client.post(
            "/login", data={"email": f"a{n}@example.com"}, headers={"X-Forwarded-For": f"203.0.113.{n}"}
        ).status_code
        for n in range(3)
    ]
    assert statuses == [200, 200, 429]  # a forged header does not buy new addresses


def test_x_forwarded_for_is_trusted_through_the_configured_proxies(make_app):
    limited = make_app(RATELIMIT_ENABLED=True, LOGIN_ADDRESS_RATE_LIMIT="2 per minute", PROXY_COUNT=1)
    client = limited.test_client()
    for _ in range(2):
        client.post("/login", data={"email": "a@example.com"}, headers={"X-Forwarded-For": "203.0.113.1"})
    behind_proxy = client.post(
        "/login", data={"email": "b@example.com"}, headers={"X-Forwarded-For": "203.0.113.2"}
    )
    assert behind_proxy.status_code == 200  # another client behind the same proxy has its own limit
    same = client.post("/login", data={"email": "c@example.com"}, headers={"X-Forwarded-For": "203.0.113.1"})
    assert same.status_code == 429


def test_a_whole_office_behind_one_address_signs_in_at_nine(make_app):
    """60 callers sharing one address all sign in within the minute, with the shipped limits."""
    office = make_app(RATELIMIT_ENABLED=True)
    # A one-round hash keeps 60 sign-ins fast; the limits are what is tested, not the hash.
    quick_hash = generate_password_hash(PASSWORD, "pbkdf2:sha256:1")
    callers = [
        User(
            email=f"caller{n}@office.example", name=f"Caller {n}", role=Role.CALLER, password_hash=quick_hash
        )
        for n in range(60)
    ]
    db.session.add_all(callers)
    db.session.commit()
    address = {"REMOTE_ADDR": "198.51.100.9"}
    statuses = [
        office.test_client()
        .post("/login", data={"email": c.email, "password": PASSWORD}, environ_base=address)
        .status_code
        for c in callers
    ]
    assert statuses == [302] * 60


def test_guessing_one_accounts_password_from_the_office_address_is_stopped(make_app, make_user):
    office = make_app(RATELIMIT_ENABLED=True)
    target, colleague = make_user(Role.ADMIN), make_user(Role.CALLER)
    guesser = office.test_client()
    address = {"REMOTE_ADDR": "198.51.100.9"}
    statuses = [
        guesser.post(
            "/login", data={"email": target.email, "password": f"guess {n}"}, environ_base=address
        ).status_code
        for n in range(12)
    ]
    assert statuses[:5] == [200] * 5
    assert set(statuses[6:]) == {429}  # the account's lock, then the account-at-this-address limit
    signed_in = office.test_client().post(
        "/login", data={"email": colleague.email, "password": PASSWORD}, environ_base=address
    )
    assert signed_in.status_code == 302  # the colleague at the same address is not locked out


def test_the_account_at_an_address_limit_counts_each_account_apart(make_app, make_user):
    limited = make_app(
        RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="2 per minute", LOGIN_ACCOUNT_FREE_ATTEMPTS=100
    )
    client = limited.test_client()
    same_account = [client.post("/login", data={"email": "a@example.com"}).status_code for _ in range(3)]
    assert same_account == [200, 200, 429]
    assert client.post("/login", data={"email": "b@example.com"}).status_code == 200


def test_several_web_processes_with_the_memory_store_warn_at_start(make_app, caplog):
    from app.ratelimit import warn_about_a_per_process_store, web_processes

    assert web_processes({}, ["/srv/.venv/bin/gunicorn", "--workers", "4", "wsgi:app"]) == 4
    assert web_processes({}, ["gunicorn", "-w3", "wsgi:app"]) == 3
    assert web_processes({"GUNICORN_CMD_ARGS": "--workers=2"}, ["flask"]) == 2
    assert web_processes({"WEB_CONCURRENCY": "5"}, ["gunicorn", "wsgi:app"]) == 5
    assert web_processes({}, ["flask", "run"]) == 1
    app = make_app(RATELIMIT_ENABLED=True)
    with caplog.at_level("WARNING"):
        warn_about_a_per_process_store(app, environ={}, argv=["gunicorn", "--workers", "4", "wsgi:app"])
    assert "4 web processes will run: every limit is 4 times looser than set" in caplog.text
    caplog.clear()
    app.config["RATELIMIT_STORAGE_URI"] = "redis://127.0.0.1:6379/0"
    warn_about_a_per_process_store(app, environ={}, argv=["gunicorn", "--workers", "4", "wsgi:app"])
    warn_about_a_per_process_store(make_app(RATELIMIT_ENABLED=True), environ={}, argv=["gunicorn"])
    assert caplog.text == ""


def test_limits_are_shared_between_workers_through_the_configured_store(make_app):
    redis = pytest.importorskip("redis")
    uri = "redis://127.0.0.1:6379/3"
    try:
        redis.Redis.from_url(uri).flushdb()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    settings = {"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": uri, "LOGIN_RATE_LIMIT": "3 per minute"}
    worker_one = make_app(**settings)
    worker_two = make_app(**settings)
    try:
        statuses = [
            app.test_client().post("/login", data={"email": "x@example.com"}).status_code
            for app in (worker_one, worker_two, worker_one, worker_two)
        ]
        assert statuses == [200, 200, 200, 429]
    finally:
        redis.Redis.from_url(uri).flushdb()


def test_unknown_emails_are_checked_against_a_dummy_hash(monkeypatch, make_user):
    """Login timing must not tell which emails exist: an unknown email costs one hash check too."""
    checked = []
    real = auth_service.check_password_hash

    def counting(pwhash: str, password: str) -> bool:
        checked.append(pwhash)
        return real(pwhash, password)

    monkeypatch.setattr(auth_service, "check_password_hash", counting)
    assert authenticate("nobody@example.com", "some password") is None
    assert len(checked) == 1
    assert checked[0].startswith(("scrypt:", "pbkdf2:"))


def test_a_deactivated_users_password_is_still_checked(monkeypatch, make_user):
    user = make_user(Role.CALLER)
    user.active = False
    db.session.commit()
    assert authenticate(user.email, PASSWORD) is None
    assert authenticate(user.email, "wrong password") is None


GOOD_KEY = "9f1c2e7a4b6d8035e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"SECRET_KEY": "", "PUBLIC_BASE_URL": "https://w.example.com"}, "SECRET_KEY is not set"),
        ({"SECRET_KEY": "x" * 31, "PUBLIC_BASE_URL": "https://w.example.com"}, "shorter than 32 bytes"),
        ({"SECRET_KEY": GOOD_KEY, "PUBLIC_BASE_URL": ""}, "PUBLIC_BASE_URL is unset"),
        ({"SECRET_KEY": GOOD_KEY, "PUBLIC_BASE_URL": "http://127.0.0.1:5000"}, "points at this machine"),
        ({"SECRET_KEY": GOOD_KEY, "PUBLIC_BASE_URL": "http://localhost:8000"}, "points at this machine"),
        ({"SECRET_KEY": GOOD_KEY, "PUBLIC_BASE_URL": "http://[::1]/"}, "points at this machine"),
    ],
)
def test_production_refuses_dangerous_settings(settings, message):
    with pytest.raises(RuntimeError, match=message):
        check_production_settings(settings)


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("x" * 64, "repeats a few characters"),
        ("ab" * 20, "repeats a few characters"),
        ("0123456701234567012345670123456701234567", "repeats a few characters"),
        ("passwordpasswordpassword12345678", "is made of dictionary words"),
        ("ChangeMeChangeMeSecretKeyWinback2024", "is made of dictionary words"),
        ("correct horse battery staple under the bridge", "is made of dictionary words"),
    ],
)
def test_production_refuses_a_guessable_secret_key(key, reason):
    with pytest.raises(RuntimeError, match=f"SECRET_KEY is guessable \\(it {reason}"):
        check_production_settings({"SECRET_KEY": key, "PUBLIC_BASE_URL": "https://w.example.com"})


@pytest.mark.parametrize(
    "url",
    [
        "http://0x7f000001/",
        "http://2130706433:8000/",
        "http://[::ffff:127.0.0.1]/",
        "http://0/",
        "http://127.1/",
        "http://0177.0.0.1/",
        "http://[::]/",
        "http://app.localhost/",
    ],
)
def test_production_refuses_every_spelling_of_this_machine(url):
    with pytest.raises(RuntimeError, match="points at this machine"):
        check_production_settings({"SECRET_KEY": GOOD_KEY, "PUBLIC_BASE_URL": url})


def test_generated_keys_and_public_addresses_pass():
    import secrets

    for _ in range(200):
        check_production_settings(
            {"SECRET_KEY": secrets.token_hex(32), "PUBLIC_BASE_URL": "https://203.0.113.7"}
        )
        check_production_settings(
            {"SECRET_KEY": secrets.token_urlsafe(32), "PUBLIC_BASE_URL": "https://w.example.com"}
        )


def test_production_app_refuses_to_start_with_a_short_key(app):
    from app import create_app

    settings = dict(app.config)
    settings.update(ENV_NAME="production", SECRET_KEY="short", PUBLIC_BASE_URL="https://w.example.com")
    with pytest.raises(RuntimeError, match="shorter than 32 bytes"):
        create_app(settings)


def test_production_accepts_good_settings():
    check_production_settings({"SECRET_KEY": GOOD_KEY, "PUBLIC_BASE_URL": "https://winback.example.com"})


def test_every_page_sends_the_security_headers(client, make_user, login):
    login(make_user(Role.ADMIN))
    for path in ("/login", "/dashboard", "/users", "/api/v1/openapi.json", "/no-such-page"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp, path
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"


def test_no_template_has_inline_script_style_or_handlers():
    """The CSP allows no inline script or style: every template must do without them."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    templates = [
        p
        for d in ("app", "surveys", "campaigns")
        for p in (root / d).rglob("*.html")
        if ".venv" not in p.parts
    ]
    assert templates
    inline = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=|javascript:", re.IGNORECASE)
    offenders = [
        f"{p.relative_to(root)}: {m.group(0)}" for p in templates for m in inline.finditer(p.read_text())
    ]
    assert offenders == []


def test_memory_store_counts_and_expires_without_private_hooks():
    now = [1000.0]
    storage = InlineExpiryMemoryStorage(clock=lambda: now[0])
    assert storage.incr("k", 60) == 1
    assert storage.incr("k", 60) == 2
    assert storage.get("k") == 2
    assert storage.get_expiry("k") == 1060.0
    storage.incr("old", 1)
    now[0] += 61
    assert storage.get("k") == 0
    storage.incr("other", 60)  # an inline sweep drops counters no one asks for again
    assert len(storage) == 1
    storage.clear("other")
    assert storage.get("other") == 0
    assert storage.check()


def test_the_default_store_is_the_inline_expiry_memory_store(make_app):
    """The survey pages' enforce() (tested in test_survey_respondent) counts in this store by default."""
    from app.extensions import limiter

    limited = make_app(RATELIMIT_ENABLED=True)
    limited.test_client().post("/login", data={"email": "a@example.com"})
    assert isinstance(limiter.storage, InlineExpiryMemoryStorage)
