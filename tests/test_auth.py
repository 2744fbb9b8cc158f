from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.auth.models import Role, User
from app.auth.service import authenticate, create_user
from app.errors import Conflict, ValidationError
from app.extensions import db
from config import Config


def test_password_is_stored_hashed_and_checked(make_user):
    user = make_user(Role.CALLER, password="a long enough secret")
    assert "a long enough secret" not in user.password_hash
    assert authenticate(user.email, "a long enough secret") == user
    assert authenticate(user.email, "wrong password!!") is None
    assert authenticate("nobody@example.com", "a long enough secret") is None


def test_outside_the_tests_passwords_are_hashed_with_scrypt(make_app):
    """The tests use a cheap hash for speed; every other configuration keeps scrypt."""
    production_like = make_app(PASSWORD_HASH_METHOD=Config.PASSWORD_HASH_METHOD)
    with production_like.app_context():
        user = create_user("scrypt@example.com", "a long enough secret", Role.CALLER)
        assert user.password_hash.startswith("scrypt:")
        assert user.check_password("a long enough secret")
        db.session.rollback()


def test_email_is_normalised_and_unique(make_user):
    make_user(Role.ADMIN, email="Ada@Example.COM")
    with pytest.raises(Conflict):
        create_user("ada@example.com", "another password", Role.ADMIN)
    assert db.session.scalar(select(User.email)) == "ada@example.com"


def test_invalid_email_short_password_and_unknown_role_are_refused():
    with pytest.raises(ValidationError, match="not a valid email"):
        create_user("not-an-email", "long enough password", Role.ADMIN)
    with pytest.raises(ValidationError, match="at least 10"):
        create_user("a@example.com", "short", Role.ADMIN)
    with pytest.raises(ValidationError, match="Role 'boss'"):
        create_user("a@example.com", "long enough password", "boss")


def test_login_and_logout_through_the_pages(client, make_user):
    user = make_user(Role.ANALYST)
    response = client.post(
        "/login",
        data={"email": user.email, "password": "correct horse battery"},
        follow_redirects=True,
    )
    assert "Sign out" in response.get_data(as_text=True)
    assert db.session.get(User, user.id).last_login_at is not None
    response = client.post("/logout", follow_redirects=True)
    assert "You are signed out" in response.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 302


def test_wrong_password_shows_one_message_for_every_failure(client, make_user):
    user = make_user(Role.ANALYST)
    wrong = client.post("/login", data={"email": user.email, "password": "nope nope nope"})
    unknown = client.post("/login", data={"email": "ghost@example.com", "password": "nope nope nope"})
    for response in (wrong, unknown):
        assert response.status_code == 200
        assert "do not match an active account" in response.get_data(as_text=True)


def test_inactive_user_cannot_sign_in(client, make_user):
    user = make_user(Role.CALLER)
    user.active = False
    db.session.commit()
    response = client.post("/login", data={"email": user.email, "password": "correct horse battery"})
    assert response.status_code == 200
    assert "do not match an active account" in response.get_data(as_text=True)


def test_login_redirects_only_to_local_pages(client, make_user):
    user = make_user(Role.ADMIN)
    data = {"email": user.email, "password": "correct horse battery"}
    response = client.post("/login?next=https://evil.example/phish", data=data)
    assert response.headers["Location"] == "/dashboard"
    client.post("/logout")
    response = client.post("/login?next=/accounts", data=data)
    assert response.headers["Location"] == "/accounts"


@pytest.fixture
def csrf_app(make_app):
    """The same app with CSRF and rate limiting on, as in production."""
    return make_app(WTF_CSRF_ENABLED=True, RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")


def test_login_form_requires_a_csrf_token(csrf_app, make_user):
    user = make_user(Role.ADMIN)
    client = csrf_app.test_client()
    response = client.post("/login", data={"email": user.email, "password": "correct horse battery"})
    assert response.status_code == 200
    assert "form expired" in response.get_data(as_text=True)
    assert "Sign out" not in response.get_data(as_text=True)
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post(
        "/login",
        data={"email": user.email, "password": "correct horse battery", "csrf_token": token},
    )
    assert response.status_code == 302


def test_login_is_rate_limited(csrf_app):
    client = csrf_app.test_client()
    statuses = [
        client.post("/login", data={"email": "x@example.com", "password": "y"}).status_code for _ in range(4)
    ]
    assert statuses[:3] == [200, 200, 200]  # refused for the missing token, but counted
    assert statuses[3] == 429


def test_admin_adds_a_user_from_the_users_page(make_user, login):
    client = login(make_user(Role.ADMIN))
    response = client.post(
        "/users",
        data={
            "email": "new.caller@example.com",
            "name": "New Caller",
            "role": "caller",
            "phone": "+1 415 555 0111",
            "password": "welcome aboard!",
        },
        follow_redirects=True,
    )
    assert "New Caller can now sign in as caller" in response.get_data(as_text=True)
    created = db.session.scalar(select(User).where(User.email == "new.caller@example.com"))
    assert created.role is Role.CALLER
    assert created.phone == "+14155550111"


def test_cli_creates_a_user_with_prompted_or_given_password(runner):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "ops@example.com",
            "--role",
            "admin",
            "--password",
            "script password",
        ]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        args=["users", "create", "caller@example.com", "--role", "caller"],
        input="prompted password\nprompted password\n",
    )
    assert result.exit_code == 0, result.output
    assert authenticate("ops@example.com", "script password").role is Role.ADMIN
    assert authenticate("caller@example.com", "prompted password").role is Role.CALLER
    duplicate = runner.invoke(
        args=[
            "users",
            "create",
            "ops@example.com",
            "--role",
            "admin",
            "--password",
            "script password",
        ]
    )
    assert duplicate.exit_code == 1
    assert "already exists" in duplicate.output
