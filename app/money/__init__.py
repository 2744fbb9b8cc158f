"""Money in one reporting currency: the admin's currency and monthly exchange rates, and conversion."""

from __future__ import annotations

from flask import Flask

from app.money.views import bp

__all__ = ["bp", "init_app"]


MENU = (("Settings", "Currency", "money.settings", 27),)  # group, label, endpoint, position in the group


def init_app(app: Flask) -> None:
    from app.auth.menu import add_menu_item

    for group, label, endpoint, position in MENU:
        add_menu_item(app, group, label, endpoint, position=position)
    app.register_blueprint(bp)
