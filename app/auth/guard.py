"""Every route states who may use it; a route that states nothing is refused (deny by default)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, current_app, request
from flask_login import current_user

from app.auth.models import Role
from app.extensions import login_manager

ACCESS_ATTR = "winback_access"  # "public", "api_token" or a frozenset of roles
ALL_ROLES = frozenset(Role)

# Endpoints Flask itself adds; static files are public.
BUILTIN_PUBLIC_ENDPOINTS = frozenset({"static"})


def public(view: Callable) -> Callable:
    """Mark a route as open to anyone, customers and anonymous visitors included."""
    setattr(view, ACCESS_ATTR, "public")
    return view


def roles_required(*roles: Role) -> Callable[[Callable], Callable]:
    """Allow a route to logged-in users holding one of the roles; others get 403."""
    allowed = frozenset(roles)
    if not allowed:
        raise ValueError("roles_required needs at least one role")

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        setattr(guarded, ACCESS_ATTR, allowed)
        return guarded

    return decorator


staff_only = roles_required(*ALL_ROLES)

API_TOKEN = "api_token"  # noqa: S105 (an access kind)


def access_of(view: Callable) -> str | frozenset[Role] | None:
    return getattr(view, ACCESS_ATTR, None)


def refuse_undeclared_routes() -> None:
    """before_request hook: a view without an access declaration is a bug, never an open door."""
    endpoint = request.endpoint
    if endpoint is None or endpoint in BUILTIN_PUBLIC_ENDPOINTS:
        return
    view = current_app.view_functions.get(endpoint)
    if view is not None and access_of(view) is None:
        current_app.logger.error("route %s declares no access rule; refusing", endpoint)
        abort(403)
