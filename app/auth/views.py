"""Login, logout, the role-aware home page and user administration."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from app.auth.forms import (
    ChangePasswordForm,
    EditUserForm,
    LoginForm,
    ProfileForm,
    ResetPasswordForm,
    SetPasswordForm,
    UserForm,
)
from app.auth.guard import public, roles_required, staff_only
from app.auth.menu import home_endpoint
from app.auth.models import Role, User
from app.auth.service import (
    authenticate,
    change_own_password,
    create_user,
    deactivate_user,
    end_sessions,
    reactivate_user,
    send_password_reset,
    set_own_timezone,
    set_password,
    update_user,
    user_for_reset_token,
)
from app.changes import domain_change
from app.db_types import utcnow
from app.errors import DomainError
from app.extensions import csrf, db, limiter
from app.ratelimit import (
    account_locked_for,
    record_failed_sign_in,
    record_sign_in,
    sign_in_account_and_address,
    sign_in_address,
)

bp = Blueprint("auth", __name__)


def _home_url(user) -> str:
    """Each role's home page (a caller's is their call queue: see set_home)."""
    return url_for(home_endpoint(user.role))


def _safe_next(target: str | None) -> str | None:
    """Only follow a relative path, never an open redirect to another site."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} seconds"
    minutes = -(-seconds // 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _login_address_limit() -> str:
    return current_app.config["LOGIN_ADDRESS_RATE_LIMIT"]


# The form checks its own CSRF token; exempting the global check lets the rate limit (which runs
# inside the view wrapper) count every attempt, forged ones included.
@bp.route("/login", methods=["GET", "POST"])
@csrf.exempt
@limiter.limit(_login_limit, methods=["POST"], key_func=sign_in_account_and_address)
@limiter.limit(_login_address_limit, methods=["POST"], key_func=sign_in_address)
@public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data
        wait = account_locked_for(email)
        if wait:
            flash(f"Too many failed sign-ins for this account. Try again in {_duration(wait)}.", "error")
            return render_template("auth/login.html", form=form), 429
        user = authenticate(email, form.password.data)
        if user is None:
            record_failed_sign_in(email)
            flash("That email and password do not match an active account.", "error")
        else:
            db.session.commit()
            record_sign_in(email)
            login_user(user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")) or _home_url(user))
    elif "csrf_token" in form.errors:
        flash("The form expired or was sent from elsewhere. Please sign in again.", "error")
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@staff_only
def logout():
    end_sessions(current_user._get_current_object())  # a copied or remembered cookie dies too
    db.session.commit()
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


def _edit_page(
    user: User, edit_form: EditUserForm | None = None, password_form: SetPasswordForm | None = None
):
    return render_template(
        "auth/user_edit.html",
        user=user,
        form=edit_form or EditUserForm(obj=user, role=user.role.value),
        password_form=password_form or SetPasswordForm(formdata=None),
    )


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit_user(user_id: int):
    user = db.get_or_404(User, user_id)
    form = EditUserForm(obj=user) if request.method == "POST" else None
    if form is not None and form.validate_on_submit():
        with domain_change() as change:
            update_user(user, name=form.name.data, role=form.role.data, actor=current_user)
        if change:
            flash(f"{user.name} is saved ({user.role.label.lower()}).", "success")
            return redirect(url_for("auth.edit_user", user_id=user.id))
    return _edit_page(user, edit_form=form)


@bp.post("/users/<int:user_id>/password")
@roles_required(Role.ADMIN)
def set_user_password(user_id: int):
    user = db.get_or_404(User, user_id)
    form = SetPasswordForm()
    if form.validate_on_submit():
        with domain_change() as change:
            set_password(user, form.new_password.data, actor=current_user)
        if change:
            if user.id == current_user.id:
                login_user(user)  # stay signed in here with the new session token
            flash(f"{user.name} has a new password; their sessions ended. Tell them directly.", "success")
            return redirect(url_for("auth.edit_user", user_id=user.id))
    return _edit_page(user, password_form=form)


@bp.post("/users/<int:user_id>/deactivate")
@roles_required(Role.ADMIN)
def deactivate(user_id: int):
    user = db.get_or_404(User, user_id)
    with domain_change() as change:
        deactivate_user(user, actor=current_user)
    if change:
        flash(f"{user.name} can no longer sign in; their sessions ended. Their history is kept.", "success")
    return redirect(url_for("auth.edit_user", user_id=user.id))


@bp.post("/users/<int:user_id>/reactivate")
@roles_required(Role.ADMIN)
def reactivate(user_id: int):
    user = db.get_or_404(User, user_id)
    with domain_change() as change:
        reactivate_user(user, actor=current_user)
    if change:
        flash(f"{user.name} can sign in again.", "success")
    return redirect(url_for("auth.edit_user", user_id=user.id))


@bp.route("/account/password", methods=["GET", "POST"])
@staff_only
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        remembered = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies
        try:
            change_own_password(user, form.current_password.data, form.new_password.data)
        except DomainError as error:
            db.session.rollback()
            target = form.current_password if error.field == "current_password" else form.new_password
            target.errors = [*target.errors, error.message]
        else:
            db.session.commit()
            login_user(user, remember=remembered)  # this session goes on with the new token
            flash("Your password is changed. You were signed out everywhere else.", "success")
            return redirect(url_for("dashboard.home"))
    return render_template("auth/change_password.html", form=form)


@bp.route("/account/profile", methods=["GET", "POST"])
@staff_only
def profile():
    user = current_user._get_current_object()
    form = ProfileForm(timezone=user.timezone)
    if form.validate_on_submit():
        set_own_timezone(user, form.timezone.data)
        db.session.commit()
        flash(f"Your time zone is {user.timezone}.", "success")
        return redirect(url_for("auth.profile"))
    return render_template("auth/profile.html", form=form, auto=user.timezone_auto)


@bp.post("/account/time-zone")
@staff_only
def browser_time_zone():
    """The browser's time zone, posted once by static/js/ui.js while the user has not chosen one."""
    try:
        set_own_timezone(
            current_user._get_current_object(), request.form.get("timezone", ""), from_browser=True
        )
    except DomainError as error:
        db.session.rollback()
        return error.to_json(), 422
    db.session.commit()
    return "", 204


@bp.post("/users/<int:user_id>/reset-link")
@roles_required(Role.ADMIN)
def send_reset_link(user_id: int):
    user = db.get_or_404(User, user_id)
    base_url = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    with domain_change() as change:
        send_password_reset(
            user,
            link_for=lambda token: base_url + url_for("auth.reset_password", token=token),
            secret_key=current_app.config["SECRET_KEY"],
            actor=current_user,
            now=utcnow(),
        )
    if change:
        flash(
            f"A link to set a new password is on its way to {user.email} (valid 24 hours, once).", "success"
        )
    return redirect(url_for("auth.edit_user", user_id=user.id))


# The signed link is the credential (like the unsubscribe link); the limit stops guessing.
@bp.route("/reset-password/<token>", methods=["GET", "POST"])
@limiter.limit("20 per minute")
@public
def reset_password(token: str):
    user = user_for_reset_token(token, secret_key=current_app.config["SECRET_KEY"])
    if user is None:
        return render_template("auth/reset_password.html", form=None), 404
    form = ResetPasswordForm()
    if form.validate_on_submit():
        with domain_change() as change:
            set_password(user, form.new_password.data, actor=user)
        if change:
            logout_user()
            flash("Your password is set. Sign in with it.", "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset_password.html", form=form)
