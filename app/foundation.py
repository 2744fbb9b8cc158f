"""The foundation every package stands on: the extensions, the database, input guards, error pages,
template helpers and response headers. The first package create_app initialises."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, request

from app import database, ratelimit  # ratelimit registers winback-memory:// first
from app.errorhandlers import register_error_handlers
from app.extensions import csrf, db, limiter, login_manager, migrate
from app.security import install_input_guards, install_security_headers, trust_proxies
from app.sessions import install_session_interface
from app.templating import register_template_helpers

PROJECT_DIR = Path(__file__).resolve().parent.parent


def init_app(app: Flask) -> None:
    """The extensions, then the guards and helpers every page goes through."""
    database.engine_options_for_backend(app)
    install_session_interface(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_DIR / "migrations"))
    limiter.init_app(app)  # before CSRF, so requests refused for a bad token still count
    ratelimit.gate_limiter_hooks(app)
    ratelimit.warn_about_a_per_process_store(app)
    install_csrf(app)
    login_manager.init_app(app)
    database.configure_sqlite(app)
    install_input_guards(app)  # before any blueprint, so every `<int:...>` route is bounded
    register_error_handlers(app)
    register_template_helpers(app)
    install_security_headers(app)
    trust_proxies(app)  # X-Forwarded-* trusted only from the configured proxies


def install_csrf(app: Flask) -> None:
    """Flask-WTF's CSRF check, with its before-request hook swapped for one that looks at the method
    first: theirs resolves the view's exemptions on every GET too, a sixteenth of a page's time. Same
    settings (WTF_CSRF_ENABLED, WTF_CSRF_CHECK_DEFAULT, WTF_CSRF_METHODS), same `csrf.protect`."""
    csrf.init_app(app)

    def check_csrf() -> None:
        config = app.config
        guarded = request.method in config["WTF_CSRF_METHODS"]
        if guarded and config["WTF_CSRF_ENABLED"] and config["WTF_CSRF_CHECK_DEFAULT"]:
            csrf.protect(apply_exemptions=True)

    hooks = app.before_request_funcs.setdefault(None, [])
    for index, hook in enumerate(hooks):
        if hook.__module__ == "flask_wtf.csrf" and hook.__name__ == "csrf_protect":
            hooks[index] = check_csrf
