"""The organisation customers see: name, logo, brand colour and postal address on survey pages and emails."""

from __future__ import annotations

from flask import Flask

from app.organisation.views import bp

__all__ = ["bp", "init_app"]


MENU = (
    ("Settings", "Organisation", "organisation.settings", 26),
)  # group, label, endpoint, position in the group


def init_app(app: Flask) -> None:
    from app.auth.menu import add_menu_item

    for group, label, endpoint, position in MENU:
        add_menu_item(app, group, label, endpoint, position=position)
    app.register_blueprint(bp)
