"""Template filters and the role-aware, grouped navigation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import Flask, current_app, request
from flask_login import current_user
from markupsafe import Markup

from app.auth.models import Role

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}

# The work, in the order the menu shows it. A group with no item for the user is not shown.
NAV_GROUPS = ("Deals", "Campaigns", "Calls", "Surveys", "Coding", "Pipeline", "Reports", "Settings")

ADMIN = frozenset({Role.ADMIN})
EVERYONE = frozenset(Role)
REVIEWERS = frozenset({Role.ADMIN, Role.SALES_MANAGER})
REPORT_READERS = frozenset({Role.ADMIN, Role.SALES_MANAGER, Role.ANALYST})


@dataclass(frozen=True)
class NavItem:
    group: str
    label: str
    endpoint: str
    roles: frozenset[Role]


# One line per page. An item shows only when its endpoint exists (so the call queue, coding,
# pipeline and reports pages appear by adding their line here) and the user's role may use it.
NAV_ITEMS = (
    NavItem("Deals", "Dashboard", "dashboard.home", EVERYONE),
    NavItem("Deals", "Lost deals", "crm.opportunities", EVERYONE),
    NavItem("Deals", "Accounts", "crm.accounts", EVERYONE),
    NavItem("Deals", "Imports", "imports.history", ADMIN),
    NavItem("Campaigns", "Campaigns", "campaigns.index", frozenset({Role.ADMIN, Role.CALLER})),
    NavItem("Campaigns", "Outbox", "messaging.outbox", ADMIN),
    NavItem("Campaigns", "Replies", "messaging.replies", ADMIN),
    NavItem("Campaigns", "Do not contact", "messaging.do_not_contact", ADMIN),
    NavItem("Surveys", "Surveys", "surveys.index", frozenset({Role.ADMIN, Role.ANALYST})),
    NavItem("Calls", "Call queue", "calls.queue", frozenset({Role.ADMIN, Role.CALLER})),
    NavItem("Calls", "Supervisor", "calls.supervisor", ADMIN),
    NavItem("Coding", "Workbench", "coding.workbench", frozenset({Role.ADMIN, Role.ANALYST})),
    NavItem("Coding", "Agreement", "coding.agreement_page", frozenset({Role.ADMIN, Role.ANALYST})),
    NavItem("Coding", "Keyword rules", "coding.rules", frozenset({Role.ADMIN, Role.ANALYST})),
    NavItem("Coding", "Codebook", "codebook.index", frozenset({Role.ADMIN, Role.ANALYST})),
    NavItem("Pipeline", "Review queue", "pipeline.queue", REVIEWERS),
    NavItem("Pipeline", "Accepted and recycled", "pipeline.recycled", REVIEWERS),
    NavItem("Pipeline", "Service levels", "pipeline.sla", REVIEWERS),
    NavItem("Pipeline", "Pipeline settings", "pipeline.settings", ADMIN),
    NavItem("Reports", "All reports", "reports.index", REPORT_READERS),
    NavItem("Reports", "Loss reasons", "reports.loss_reasons", REPORT_READERS),
    NavItem("Reports", "Sales said, customers said", "reports.sales_vs_customers", REPORT_READERS),
    NavItem("Reports", "Recovery funnel", "reports.funnel", REPORT_READERS),
    NavItem("Reports", "Competitors", "reports.competitors", REPORT_READERS),
    NavItem("Reports", "Sales follow-up", "reports.sales_follow_up", REPORT_READERS),
    NavItem("Reports", "Callers", "reports.callers", frozenset({Role.ADMIN, Role.SALES_MANAGER})),
    NavItem("Settings", "Organisation", "organisation.settings", ADMIN),
    NavItem("Settings", "Currency", "money.settings", ADMIN),
    NavItem("Settings", "Funnel targets", "reports.targets_settings", ADMIN),
    NavItem("Settings", "Users", "auth.users", ADMIN),
    NavItem("Settings", "Style guide", "dashboard.styleguide", ADMIN),
    NavItem("Settings", "My password", "auth.change_password", EVERYONE),
)


@dataclass(frozen=True)
class NavGroup:
    label: str
    items: tuple[NavItem, ...]
    current: bool


def nav_for(user, endpoints=None) -> list[NavItem]:
    """The menu items the user may use, among the pages this app has."""
    if not user.is_authenticated:
        return []
    if endpoints is None:
        endpoints = current_app.view_functions
    return [item for item in NAV_ITEMS if user.role in item.roles and item.endpoint in endpoints]


def nav_groups_for(user, current_endpoint: str | None = None, endpoints=None) -> list[NavGroup]:
    items = nav_for(user, endpoints)
    groups = []
    for label in NAV_GROUPS:
        members = tuple(item for item in items if item.group == label)
        if members:
            current = any(item.endpoint == current_endpoint for item in members)
            groups.append(NavGroup(label, members, current))
    return groups


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


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.globals["panels"] = panels
    app.jinja_env.filters["money"] = format_money
    app.jinja_env.filters["day"] = format_date

    @app.context_processor
    def inject_navigation():
        # Functions, not lists: pages without the staff menu (the survey) never load the user.
        return {
            "nav_items": lambda: nav_for(current_user),
            "nav_groups": lambda: nav_groups_for(current_user, request.endpoint),
        }
