"""Template filters, and the panels higher layers add to core pages (the menu is app/auth/menu.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import Flask, current_app, request, url_for
from markupsafe import Markup

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def format_money(amount: Decimal | None, currency: str) -> str:
    """The one way money is written: the amount in `currency`, with its symbol when it has one.

    The currency is required: a deal is shown in its own, a sum in the reporting currency.
    """
    if amount is None:
        return "—"
    symbol = CURRENCY_SYMBOLS.get(currency)
    text = f"{amount:,.0f}" if amount == amount.to_integral() else f"{amount:,.2f}"
    return f"{symbol}{text}" if symbol else f"{text} {currency}"


def format_date(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


PANELS = "winback.panels"


def add_panel(app: Flask, slot: str, render: Callable[[Any], str]) -> None:
    """Let a higher layer add a section to a core page (the opportunity page's customer-stated reasons)."""
    app.extensions.setdefault(PANELS, {}).setdefault(slot, []).append(render)


def panels(slot: str, subject: Any) -> list[Markup]:
    return [Markup(render(subject)) for render in current_app.extensions.get(PANELS, {}).get(slot, [])]  # noqa: S704 (rendered templates)


_STATIC_URLS = "templating.static_urls"


def static_url(filename: str) -> str:
    """`url_for('static', filename=...)`, built once per file and script root: every page links the same
    stylesheets and scripts, and a routing build costs a survey page more than its own stylesheet link."""
    built = current_app.extensions.setdefault(_STATIC_URLS, {})
    key = (request.script_root, filename)
    url = built.get(key)
    if url is None:
        if len(built) > 1000:  # many script roots (a proxy's prefix header): start over
            built.clear()
        url = built[key] = url_for("static", filename=filename)
    return url


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.globals["panels"] = panels
    app.jinja_env.globals["static_url"] = static_url
    app.jinja_env.filters["money"] = format_money
    app.jinja_env.filters["day"] = format_date
