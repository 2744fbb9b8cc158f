"""Friendly error pages for people, JSON errors for the API."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.errors import DomainError
from app.extensions import db

MESSAGES = {
    400: ("Something in that request was not right", "Please go back and try again."),
    401: ("Please sign in", "This needs a valid sign-in or API token."),
    403: (
        "You can't open this page",
        "Your role does not give access to it. Ask an admin if you need it.",
    ),
    404: ("Page not found", "The page or record you asked for does not exist, or no longer does."),
    405: ("Not allowed", "This page does not accept that kind of request."),
    413: ("File too large", "That upload is larger than this server accepts."),
    415: ("Not a form", "This page takes a form, not a JSON body."),
    429: ("Too many requests", "Please wait a minute before trying again."),
    500: (
        "Something went wrong on our side",
        "The error was logged. Please try again in a moment.",
    ),
}


def wants_json() -> bool:
    """An API call, or a client that asked for JSON: errors answer in the API's JSON shape."""
    return request.path.startswith("/api/") or (request.accept_mimetypes.best == "application/json")


def _render(status: int, detail: str | None = None):
    title, text = MESSAGES.get(status, MESSAGES[500] if status >= 500 else MESSAGES[400])
    if wants_json():
        code = {401: "unauthorized", 403: "forbidden", 404: "not_found", 429: "rate_limited"}
        body = {"error": {"code": code.get(status, f"http_{status}"), "message": detail or title}}
        return jsonify(body), status
    return render_template("errors/error.html", status=status, title=title, text=detail or text), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        # abort(400, "minutes is out of range") says what was wrong; werkzeug's stock text does not.
        said = error.description if error.description != type(error).description else None
        return _render(error.code or 500, said)

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return _render(400, "The form expired or was sent from elsewhere. Reload the page and try again.")

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        db.session.rollback()
        if wants_json():
            return jsonify(error.to_json()), error.status
        return _render(error.status, error.message)

    @app.errorhandler(500)
    def server_error(error):
        db.session.rollback()
        return _render(500)
