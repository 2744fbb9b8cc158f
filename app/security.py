"""Security headers on every response, and which proxies' X-Forwarded-* headers are believed."""

from __future__ import annotations

from flask import Flask, Response, abort, request
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

# Every script and stylesheet is a file under /static: no inline script, style attribute or handler.
# Pico draws its checkmarks and chevrons with data: SVG images.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Survey and unsubscribe links carry their token in the path: never send it to another site.
    "Referrer-Policy": "same-origin",
}


def install_security_headers(app: Flask) -> None:
    headers = dict(SECURITY_HEADERS)
    if app.config.get("ENV_NAME") == "production":
        headers["Strict-Transport-Security"] = "max-age=31536000"

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response


def trust_proxies(app: Flask) -> None:
    """Believe X-Forwarded-For/-Proto/-Host from exactly PROXY_COUNT proxies (none by default).

    Without a proxy, anyone can send X-Forwarded-For: the rate limits key on the real peer address.
    """
    count = int(app.config.get("PROXY_COUNT") or 0)
    if count > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)


# The largest id an INTEGER column holds on PostgreSQL (SQLite's 64 bits hold more): a larger number
# in a URL names nothing, so it is a 404 rather than an overflow in the database driver.
MAX_DB_INT = 2**31 - 1


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` in every route, bounded to what the database can hold."""

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", MAX_DB_INT)
        super().__init__(map, *args, **kwargs)


# Query-string numbers the pages and the API read (page numbers, ids of a contact, a draft, a cursor).
INT_QUERY_ARGS = frozenset(
    {"page", "per_page", "contact", "competitor", "draft", "after", "limit", "version"}
)


# Only the API reads JSON bodies; a form (Flask-WTF reads a JSON body as the form when one is sent)
# given a JSON list or number fails deep inside WTForms.
JSON_BLUEPRINTS = frozenset({"api", "pipeline_api"})


def refuse_hostile_input() -> None:
    """before_request: NUL characters and out-of-range numbers are a 400, never a database error."""
    if request.is_json and request.blueprint not in JSON_BLUEPRINTS and request.content_length != 0:
        abort(415)
    for key, value in request.args.items(multi=True):
        if "\x00" in key or "\x00" in value:
            abort(400, "NUL characters are not allowed")
        if key in INT_QUERY_ARGS and _out_of_range(value):
            abort(400, f"{key} is out of range")
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for key, value in request.form.items(multi=True):
            if "\x00" in key or "\x00" in value:
                abort(400, "NUL characters are not allowed")


def _out_of_range(value: str) -> bool:
    text = value.strip()
    if len(text) > 12:
        return text.lstrip("+-").isdigit()
    try:
        return abs(int(text)) > MAX_DB_INT
    except ValueError:
        return False


def install_input_guards(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedIntConverter
    app.before_request(refuse_hostile_input)
