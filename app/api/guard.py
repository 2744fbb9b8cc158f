"""The API's guard: a route open to integrations holding a valid bearer token (see app.auth.guard)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import g, jsonify, request

from app.api.service import scope_refusal, token_for
from app.auth.guard import ACCESS_ATTR, API_TOKEN


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
