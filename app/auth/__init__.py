"""Login, logout, users and the role guard every route goes through."""

from __future__ import annotations

from flask import Flask

from app.auth.views import bp

__all__ = ["bp", "init_app"]


MENU = (
    ("Settings", "Users", "auth.users", 29),
    ("Settings", "My password", "auth.change_password", 31),
)  # group, label, endpoint, position in the group


def init_app(app: Flask) -> None:
    """Sign-in (the session's user), the deny-by-default guard, the users pages and `flask users`."""
    from app.auth.menu import add_menu_item, install_menu

    for group, label, endpoint, position in MENU:
        add_menu_item(app, group, label, endpoint, position=position)
    from app.auth.cli import users_cli
    from app.auth.guard import refuse_undeclared_routes
    from app.auth.service import user_for_session
    from app.extensions import login_manager

    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"
    login_manager.user_loader(user_for_session)
    app.before_request(refuse_undeclared_routes)
    app.register_blueprint(bp)
    app.cli.add_command(users_cli)
    install_menu(app)
