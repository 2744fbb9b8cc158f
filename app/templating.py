"""Template filters and the role-aware navigation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import Flask, current_app
from flask_login import current_user
from markupsafe import Markup

from app.auth.models import Role

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


@dataclass(frozen=True)
class NavItem:
    label: str
    endpoint: str
    roles: frozenset[Role]


# Each role sees its own work first; later floors (call queue, coding, review) add their items here.
NAV_ITEMS = (
    NavItem("Dashboard", "dashboard.home", frozenset(Role)),
    NavItem("Lost deals", "crm.opportunities", frozenset(Role)),
    NavItem("Accounts", "crm.accounts", frozenset(Role)),
    NavItem("Imports", "imports.history", frozenset({Role.ADMIN})),
    NavItem("Campaigns", "campaigns.index", frozenset({Role.ADMIN, Role.CALLER})),
    NavItem("Surveys", "surveys.index", frozenset({Role.ADMIN, Role.ANALYST})),
    NavItem("Coding", "coding.workbench", frozenset({Role.ADMIN, Role.ANALYST})),
    NavItem("Review", "pipeline.queue", frozenset({Role.ADMIN, Role.SALES_MANAGER})),
    NavItem("Recycled", "pipeline.recycled", frozenset({Role.ADMIN, Role.SALES_MANAGER})),
    NavItem("Outbox", "messaging.outbox", frozenset({Role.ADMIN})),
    NavItem("Replies", "messaging.replies", frozenset({Role.ADMIN})),
    NavItem("Do not contact", "messaging.do_not_contact", frozenset({Role.ADMIN})),
    NavItem("Users", "auth.users", frozenset({Role.ADMIN})),
)


def nav_for(user) -> list[NavItem]:
    if not user.is_authenticated:
        return []
    return [item for item in NAV_ITEMS if user.role in item.roles]


def format_money(amount: Decimal | None, currency: str = "USD") -> str:
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


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.globals["panels"] = panels
    app.jinja_env.filters["money"] = format_money
    app.jinja_env.filters["day"] = format_date

    @app.context_processor
    def inject_navigation():
        # A function, not a list: pages without the staff menu (the survey) never load the user.
        return {"nav_items": lambda: nav_for(current_user)}
