"""The organisation customers see: name, logo, brand colour and postal address on survey pages and emails."""

from __future__ import annotations

from flask import Flask

from app.organisation.service import brand
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
    # The brand customer-facing pages show (public_layout.html); a page that passes its own wins.
    app.context_processor(_brand)


def _brand() -> dict:
    return {"brand": brand()}
