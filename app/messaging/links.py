"""Where customer links point: PUBLIC_BASE_URL, or in development the host the page was asked on."""

from __future__ import annotations

from flask import current_app, has_request_context, request


def public_base_url() -> str:
    """The scheme and host customer links start with, without a trailing slash.

    In development a link built while serving a request uses that request's host, so the links work
    on whatever host and port the app runs (`flask run --port 5001`, a LAN address). Elsewhere, and
    outside requests (the worker, the CLI), PUBLIC_BASE_URL decides: a request's Host header is not
    trusted in production.
    """
    if current_app.config.get("ENV_NAME") == "development" and has_request_context():
        return f"{request.scheme}://{request.host}"  # request.host_url without its IRI decoding

    return current_app.config["PUBLIC_BASE_URL"].rstrip("/")
