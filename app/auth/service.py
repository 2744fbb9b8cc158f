"""Users: create, authenticate, edit, deactivate, change passwords. Callers commit."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Protocol

from flask import Flask, current_app
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from app.audit.service import record_event
from app.auth.models import Role, User, new_session_token
from app.db_types import utcnow
from app.errors import Conflict, ValidationError
from app.extensions import db
from app.validation import normalize_email, normalize_phone

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # hashing a megabyte of "password" is a denial of service, not a secret


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def _check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            f"The password must have at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(
            f"The password must have at most {MAX_PASSWORD_LENGTH} characters", field="password"
        )


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise ValidationError(
            f"Role '{role}' is not one of {', '.join(r.value for r in Role)}", field="role"
        ) from None


def create_user(
    email: str,
    password: str,
    role: Role | str,
    *,
    name: str | None = None,
    phone: str | None = None,
    timezone: str = "UTC",
) -> User:
    clean_email = normalize_email(email)
    if find_user_by_email(clean_email):
        raise Conflict(f"A user with the email {clean_email} already exists", field="email")
    _check_new_password(password)
    user = User(
        email=clean_email,
        name=name or clean_email.split("@")[0].replace(".", " ").title(),
        role=_role(role),
        phone=normalize_phone(phone) if phone else None,
        timezone=timezone,
        session_token=new_session_token(),
    )
    user.set_password(password, method=_hash_method())
    db.session.add(user)
    db.session.flush()
    return user


def _hash_method() -> str:
    return current_app.config["PASSWORD_HASH_METHOD"]


@cache
def _dummy_hash(method: str) -> str:
    """A hash of nothing anyone knows, with the same cost as real ones (one per process)."""
    return generate_password_hash(new_session_token(), method=method)


def authenticate(email: str, password: str, *, now: datetime | None = None) -> User | None:
    """The active user with this email and password, or None (same answer for every failure).

    An unknown email is checked against a dummy hash, so the answer takes as long as for a known one.
    """
    user = find_user_by_email(email) if len(password) <= MAX_PASSWORD_LENGTH else None
    if user is None:
        check_password_hash(_dummy_hash(_hash_method()), password[:MAX_PASSWORD_LENGTH])
        return None
    if not user.check_password(password) or not user.active:
        return None
    user.last_login_at = now or utcnow()
    return user


def user_for_session(session_id: str) -> User | None:
    """The user a session or remember cookie names ("<id>:<token>"), if the token is still theirs."""
    user_id, _, token = session_id.partition(":")
    if not user_id.isdigit() or not token or len(user_id) > 18:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not hmac.compare_digest(user.session_token.encode(), token.encode()):
        return None
    return user


def end_sessions(user: User) -> None:
    """Sign the user out everywhere: every session and remember cookie stops working."""
    user.rotate_session_token()


def _active_admins_besides(user: User) -> int:
    return db.session.scalar(
        select(func.count(User.id)).where(User.role == Role.ADMIN, User.active, User.id != user.id)
    )


def update_user(
    user: User, *, name: str, role: Role | str, actor: User | None, now: datetime | None = None
) -> User:
    """Change a user's name and role; the last active admin keeps the admin role."""
    new_role = _role(role)
    clean_name = " ".join((name or "").split())
    if not clean_name:
        raise ValidationError("A name is required", field="name")
    if len(clean_name) > 120:
        raise ValidationError("The name must have at most 120 characters", field="name")
    if user.role is Role.ADMIN and new_role is not Role.ADMIN and not _active_admins_besides(user):
        raise Conflict("Winback needs at least one active admin: make someone else admin first", field="role")
    changes = {}
    if user.name != clean_name:
        changes["name"] = [user.name, clean_name]
    if user.role is not new_role:
        changes["role"] = [user.role.value, new_role.value]
    user.name = clean_name
    user.role = new_role
    if changes:
        record_event("user.updated", "user", user.id, actor=actor, details=changes, now=now or utcnow())
    return user


def deactivate_user(user: User, *, actor: User | None, now: datetime | None = None) -> User:
    """Refuse the user's sign-ins from now on and end their sessions; their history stays."""
    if actor is not None and actor.id == user.id:
        raise Conflict("You cannot deactivate yourself", field="active")
    if user.role is Role.ADMIN and user.active and not _active_admins_besides(user):
        raise Conflict("Winback needs at least one active admin", field="active")
    user.active = False
    end_sessions(user)
    record_event("user.deactivated", "user", user.id, actor=actor, now=now or utcnow())
    return user


def reactivate_user(user: User, *, actor: User | None, now: datetime | None = None) -> User:
    user.active = True
    record_event("user.reactivated", "user", user.id, actor=actor, now=now or utcnow())
    return user


def set_password(user: User, password: str, *, actor: User | None, now: datetime | None = None) -> User:
    """Give the user a new password (an admin, the CLI or a reset link); every session ends."""
    _check_new_password(password)
    user.set_password(password, method=_hash_method())
    end_sessions(user)
    record_event("user.password_set", "user", user.id, actor=actor, now=now or utcnow())
    return user


def change_own_password(user: User, current: str, new: str, *, now: datetime | None = None) -> User:
    """The user changes their password, proving the current one; their other sessions end."""
    if len(current) > MAX_PASSWORD_LENGTH or not user.check_password(current):
        raise ValidationError("The current password is not right", field="current_password")
    return set_password(user, new, actor=user, now=now)


# Password reset links: signed (SECRET_KEY), valid for a day, and only while the user's session token
# is the one they were made with, so setting the password (which rotates it) uses the link up.
RESET_SALT = "winback-password-reset"
RESET_MAX_AGE_SECONDS = 24 * 3600


def _reset_serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=RESET_SALT)


def password_reset_token(user: User, *, secret_key: str) -> str:
    return _reset_serializer(secret_key).dumps({"u": user.id, "t": user.session_token})


def user_for_reset_token(token: str, *, secret_key: str, max_age: int = RESET_MAX_AGE_SECONDS) -> User | None:
    """The active user a reset link was made for, or None when it is forged, expired or used."""
    try:
        data = _reset_serializer(secret_key).loads(token, max_age=max_age)
    except BadData:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int) or not isinstance(data.get("t"), str):
        return None
    user = db.session.get(User, data["u"]) if 0 < data["u"] < 2**31 else None
    if user is None or not user.active or not hmac.compare_digest(user.session_token, data["t"]):
        return None
    return user


# The outbox lives above auth: messaging's init_app registers how staff emails are queued.
STAFF_MAILER = "auth.staff_mailer"


class StaffMailer(Protocol):
    def __call__(
        self,
        *,
        recipient: str,
        subject: str,
        body_text: str,
        idempotency_key: str,
        template: str,
        now: datetime,
    ) -> object: ...


def register_staff_mailer(app: Flask, mailer: StaffMailer) -> None:
    app.extensions[STAFF_MAILER] = mailer


def send_password_reset(
    user: User,
    *,
    link_for: Callable[[str], str],
    secret_key: str,
    actor: User | None,
    now: datetime,
    mailer: StaffMailer | None = None,
) -> object:
    """Queue an email with a link to set a new password (valid a day, once); returns the queued message."""
    if not user.active:
        raise Conflict("This user is deactivated: let them sign in again first", field="active")
    link = link_for(password_reset_token(user, secret_key=secret_key))
    mailer = mailer or current_app.extensions[STAFF_MAILER]
    message = mailer(
        recipient=user.email,
        subject="Set your Winback password",
        body_text=(
            f"Hello {user.name},\n\nSet a new password for Winback with this link (valid for 24 hours, "
            f"once):\n\n{link}\n\nIf you did not expect this email, ignore it: nothing changes.\n"
        ),
        idempotency_key=f"password-reset:{user.id}:{user.session_token}",
        template="password_reset",
        now=now,
    )
    record_event("user.password_reset_sent", "user", user.id, actor=actor, now=now)
    return message


@cache
def time_zone_names() -> tuple[str, ...]:
    """Every IANA time zone name this system knows, sorted (a user's zone is one of them)."""
    from zoneinfo import available_timezones

    return tuple(sorted(available_timezones()))


def set_own_timezone(user: User, zone: str, *, from_browser: bool = False) -> bool:
    """The user's time zone. The browser's zone is taken only until the user picks one; True if changed."""
    zone = (zone or "").strip()
    if zone not in time_zone_names():
        raise ValidationError("Choose a time zone from the list.", field="timezone")
    if from_browser and not user.timezone_auto:
        return False
    changed = user.timezone != zone or user.timezone_auto != from_browser
    user.timezone = zone
    user.timezone_auto = from_browser
    return changed
