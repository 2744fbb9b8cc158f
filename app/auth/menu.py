"""The staff menu: each package adds the pages it owns (in its init_app); who sees an item is read from
the page's own role guard, so the menu and the route can never disagree."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, request
from flask_login import current_user

from app.auth.guard import ALL_ROLES, access_of
from app.auth.models import Role

# The work, in the order the menu shows it. A group with no item for the user is not shown.
NAV_GROUPS = ("Deals", "Campaigns", "Calls", "Surveys", "Coding", "Pipeline", "Reports", "Settings")
MENU = "winback.menu"
HOMES = "winback.homes"
LINKS = "winback.links"


@dataclass(frozen=True)
class MenuEntry:
    group: str
    label: str
    endpoint: str
    position: int  # where the item goes within its group, lowest first


@dataclass(frozen=True)
class NavItem:
    group: str
    label: str
    endpoint: str
    roles: frozenset[Role]


@dataclass(frozen=True)
class NavGroup:
    label: str
    items: tuple[NavItem, ...]
    current: bool


def add_menu_item(app: Flask, group: str, label: str, endpoint: str, *, position: int) -> None:
    """Show `endpoint` in the menu's `group` to the roles its route allows."""
    if group not in NAV_GROUPS:
        raise ValueError(f"unknown menu group {group!r}")
    entries = app.extensions.setdefault(MENU, [])
    entries.append(MenuEntry(group, label, endpoint, position))
    entries.sort(key=lambda entry: (NAV_GROUPS.index(entry.group), entry.position))


def _roles_of(view) -> frozenset[Role]:
    access = access_of(view)
    if access == "public":
        return ALL_ROLES
    return access if isinstance(access, frozenset) else frozenset()


def menu_items(app: Flask, endpoints=None) -> list[NavItem]:
    """Every registered item whose page exists, with the roles its route's guard allows."""
    views = app.view_functions
    endpoints = views if endpoints is None else endpoints
    return [
        NavItem(entry.group, entry.label, entry.endpoint, _roles_of(views.get(entry.endpoint)))
        for entry in app.extensions.get(MENU, [])
        if entry.endpoint in endpoints
    ]


def nav_for(user, endpoints=None) -> list[NavItem]:
    """The menu items the user may use, among the pages this app has."""
    if not user.is_authenticated:
        return []
    return [item for item in menu_items(current_app, endpoints) if user.role in item.roles]


def nav_groups_for(user, current_endpoint: str | None = None, endpoints=None) -> list[NavGroup]:
    items = nav_for(user, endpoints)
    groups = []
    for label in NAV_GROUPS:
        members = tuple(item for item in items if item.group == label)
        if members:
            current = any(item.endpoint == current_endpoint for item in members)
            groups.append(NavGroup(label, members, current))
    return groups


def add_link(app: Flask, slot: str, label: str, endpoint: str) -> None:
    """Let a higher layer add a link to a core page's sub-menu (`slot`), after the page's own links."""
    app.extensions.setdefault(LINKS, {}).setdefault(slot, []).append((label, endpoint))


def links(slot: str) -> list[tuple[str, str]]:
    """The (label, endpoint) links registered for `slot` that the current user may follow."""
    registered = current_app.extensions.get(LINKS, {}).get(slot, [])
    views = current_app.view_functions
    return [
        (label, endpoint)
        for label, endpoint in registered
        if endpoint in views
        and current_user.is_authenticated
        and current_user.role in _roles_of(views[endpoint])
    ]


def set_home(app: Flask, role: Role, endpoint: str) -> None:
    """Make `endpoint` the page a user of `role` lands on (a caller's is the call queue, set by calls)."""
    app.extensions.setdefault(HOMES, {})[role] = endpoint


def home_endpoint(role: Role) -> str:
    return current_app.extensions.get(HOMES, {}).get(role, "dashboard.home")


def install_menu(app: Flask) -> None:
    app.jinja_env.globals["links"] = links

    @app.context_processor
    def inject_navigation():
        # Functions, not lists: pages without the staff menu (the survey) never load the user.
        return {
            "nav_items": lambda: nav_for(current_user),
            "nav_groups": lambda: nav_groups_for(current_user, request.endpoint),
        }
