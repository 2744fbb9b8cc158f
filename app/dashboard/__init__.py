"""The home page: each role's own summary."""

from __future__ import annotations

from flask import Flask

from app.dashboard.views import bp

__all__ = ["bp", "init_app"]


MENU = (
    ("Deals", "Dashboard", "dashboard.home", 0),
    ("Settings", "Style guide", "dashboard.styleguide", 30),
)  # group, label, endpoint, position in the group


def init_app(app: Flask) -> None:
    from app.auth.menu import add_menu_item

    for group, label, endpoint, position in MENU:
        add_menu_item(app, group, label, endpoint, position=position)
    app.register_blueprint(bp)
