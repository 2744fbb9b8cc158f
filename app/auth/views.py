"""Login, logout, the role-aware home page and user administration."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from app.auth.forms import LoginForm, UserForm
from app.auth.guard import public, roles_required, staff_only
from app.auth.models import Role, User
from app.auth.service import authenticate, create_user
from app.errors import DomainError
from app.extensions import csrf, db, limiter

bp = Blueprint("auth", __name__)


def _home_url(user) -> str:
    """Each role's home page: a caller's is their call queue."""
    return url_for("calls.queue") if user.role is Role.CALLER else url_for("dashboard.home")


def _safe_next(target: str | None) -> str | None:
    """Only follow a relative path, never an open redirect to another site."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


# The form checks its own CSRF token; exempting the global check lets the rate limit (which runs
# inside the view wrapper) count every attempt, forged ones included.
@bp.route("/login", methods=["GET", "POST"])
@csrf.exempt
@limiter.limit(_login_limit, methods=["POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is None:
            flash("That email and password do not match an active account.", "error")
        else:
            db.session.commit()
            login_user(user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")) or _home_url(user))
    elif "csrf_token" in form.errors:
        flash("The form expired or was sent from elsewhere. Please sign in again.", "error")
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@staff_only
def logout():
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/users", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def users():
    form = UserForm()
    if form.validate_on_submit():
        try:
            user = create_user(
                form.email.data,
                form.password.data,
                form.role.data,
                name=form.name.data,
                phone=form.phone.data or None,
            )
        except DomainError as error:
            flash(error.message, "error")
        else:
            db.session.commit()
            flash(f"{user.name} can now sign in as {user.role.label.lower()}.", "success")
            return redirect(url_for("auth.users"))
    people = db.session.scalars(select(User).order_by(User.role, User.name)).all()
    return render_template("auth/users.html", users=people, form=form)
