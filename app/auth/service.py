"""Users: create, authenticate. Callers commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from app.auth.models import Role, User
from app.db_types import utcnow
from app.errors import Conflict, ValidationError
from app.extensions import db
from app.validation import normalize_email, normalize_phone

MIN_PASSWORD_LENGTH = 10


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


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
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            f"The password must have at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    try:
        role = Role(role)
    except ValueError:
        raise ValidationError(
            f"Role '{role}' is not one of {', '.join(r.value for r in Role)}", field="role"
        ) from None
    user = User(
        email=clean_email,
        name=name or clean_email.split("@")[0].replace(".", " ").title(),
        role=role,
        phone=normalize_phone(phone) if phone else None,
        timezone=timezone,
    )
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email: str, password: str, *, now: datetime | None = None) -> User | None:
    """The active user with this email and password, or None (same answer for every failure)."""
    user = find_user_by_email(email)
    if user is None or not user.active or not user.check_password(password):
        return None
    user.last_login_at = now or utcnow()
    return user
