"""Security headers on every response, and which proxies' X-Forwarded-* headers are believed."""

from __future__ import annotations

from flask import Flask, Response, abort, request
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from app.errors import ValidationError
from app.validation import MAX_DB_INT, integer_problem

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
    wanted = tuple((name.lower(), name, value) for name, value in headers.items())

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        # A view's own value wins (as setdefault would); the response's names are read once, not per header.
        present = {name.lower() for name in response.headers.keys()}  # noqa: SIM118 (Headers iterates pairs)
        for lowered, name, value in wanted:
            if lowered not in present:
                response.headers.add(name, value)
        return response


def trust_proxies(app: Flask) -> None:
    """Believe X-Forwarded-For/-Proto/-Host from exactly PROXY_COUNT proxies (none by default).

    Without a proxy, anyone can send X-Forwarded-For: the rate limits key on the real peer address.
    """
    count = int(app.config.get("PROXY_COUNT") or 0)
    if count > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` in every route, bounded to what the database can hold."""

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", MAX_DB_INT)
        super().__init__(map, *args, **kwargs)


# Numbers the pages and the API read from the query string and from forms (page numbers, ids of a
# survey, question, campaign or contact, a draft, a cursor, thresholds): each is bounded here, once, so
# that "²" or 2147483648 is a 400 with a message rather than an error in the database driver.
INT_QUERY_ARGS = frozenset(
    {
        "page",
        "per_page",
        "contact",
        "competitor",
        "draft",
        "after",
        "limit",
        "version",
        "survey",
        "question",
        "campaign",
        "campaign_id",
        "code",
        "min_score",
        "min_age_days",
    }
)
INT_FORM_FIELDS = frozenset({"ids", "code", "owner_id", "up_to", "draft", "page", "version", "campaign"})


# Only the API reads JSON bodies; a form (Flask-WTF reads a JSON body as the form when one is sent)
# given a JSON list or number fails deep inside WTForms.
JSON_BLUEPRINTS = frozenset({"api", "pipeline_api"})


def refuse_hostile_input() -> None:
    """before_request: NUL characters and out-of-range numbers are a 400, never a database error."""
    environ = request.environ
    if not environ.get("QUERY_STRING") and not environ.get("CONTENT_TYPE"):
        return  # no query string and no body type: no JSON, form or argument to check (most GETs)
    # A method or path that does not route (TRACE, a typo) is the router's 405 or 404, whatever the body.
    routed = request.routing_exception is None
    has_json = request.is_json and request.content_length != 0
    if routed and has_json and request.blueprint not in JSON_BLUEPRINTS:
        abort(415)
    _refuse_bad_values(request.args, INT_QUERY_ARGS)
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        _refuse_bad_values(request.form, INT_FORM_FIELDS)


def _refuse_bad_values(values, integer_names: frozenset[str]) -> None:
    for key, value in values.items(multi=True):
        if "\x00" in key or "\x00" in value:
            abort(400, "NUL characters are not allowed")
        if key in integer_names:
            problem = integer_problem(value)
            if problem:
                abort(400, f"{key} {problem}")


def install_input_guards(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedIntConverter
    app.before_request(refuse_hostile_input)


MAX_JSON_BODY_BYTES = 20_000_000  # 1,000 opportunities with their contacts fit many times over


def json_body():
    """The request's JSON for the API: malformed, absurdly nested or unstorable JSON is a 422, never a 500.

    JSON may spell a lone surrogate ("\\ud800") or a NUL ("\\u0000"): neither can be stored (UTF-8 has no
    surrogates; PostgreSQL refuses NUL in text), so the body is refused saying where.
    """
    if request.content_length and request.content_length > MAX_JSON_BODY_BYTES:
        raise ValidationError(f"The body is larger than {MAX_JSON_BODY_BYTES // 1_000_000} MB")
    if request.content_length and not request.is_json:
        abort(415, "Send the body as JSON, with Content-Type: application/json")
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        raise ValidationError("The JSON is nested too deeply") from None
    _refuse_unstorable_text(body)
    return body


def _refuse_unstorable_text(body) -> None:
    stack = [body]
    while stack:  # iterative: a body nested a thousand deep must not exhaust the stack here either
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            if "\x00" in value:
                raise ValidationError("The JSON contains a NUL character (\\u0000), which cannot be stored")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValidationError(
                    "The JSON contains a lone surrogate (such as \\ud800), which is not text"
                ) from None
