"""Every route states who may use it; a route that states nothing is refused (deny by default)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, current_app, g, jsonify, request
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


def _unauthorized_json(message: str):
    response = jsonify({"error": {"code": "unauthorized", "message": message}})
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="winback"'
    return response


def _forbidden_json(message: str):
    response = jsonify({"error": {"code": "forbidden", "message": message}})
    response.status_code = 403
    return response


def api_token_required(view: Callable | None = None, *, scope: str | None = None) -> Callable:
    """Allow a route only with a valid, unrevoked bearer token (Authorization: Bearer ...); else 401 JSON.
    With a scope, a token not given it gets 403 JSON: `@api_token_required(scope=Scope.READ)`.

    A signed-in browser session is not enough: integrations authenticate as themselves.
    """
    if view is None:
        return lambda inner: api_token_required(inner, scope=scope)

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        from app.api.service import scope_refusal, token_for  # the token model lives with the API

        header = request.headers.get("Authorization", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            return _unauthorized_json("An API token is required: send Authorization: Bearer <token>")
        token = token_for(secret.strip())
        if token is None:
            return _unauthorized_json("The API token is not valid or was revoked")
        refusal = scope_refusal(token, scope) if scope is not None else None
        if refusal:
            return _forbidden_json(refusal)
        g.api_token = token
        return view(*args, **kwargs)

    setattr(guarded, ACCESS_ATTR, API_TOKEN)
    return guarded


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
