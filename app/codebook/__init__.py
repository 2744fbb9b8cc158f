"""The codebook: the shared vocabulary of win/loss reasons that surveys, imports and coding use."""

from __future__ import annotations

from flask import Flask

MENU = (("Coding", "Codebook", "codebook.index", 14),)  # group, label, endpoint, position in the group


def init_app(app: Flask) -> None:
    """The codebook pages and `flask codebook`."""
    from app.auth.menu import add_menu_item

    for group, label, endpoint, position in MENU:
        add_menu_item(app, group, label, endpoint, position=position)
    from app.codebook.cli import codebook_cli
    from app.codebook.views import bp

    app.register_blueprint(bp)
    app.cli.add_command(codebook_cli)
