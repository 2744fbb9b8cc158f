"""flask users ... commands."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.auth.models import Role
from app.auth.service import create_user
from app.errors import DomainError
from app.extensions import db

users_cli = AppGroup("users", help="Manage the people who sign in to Winback.")


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--name", default=None, help="Display name (default: from the email).")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Password (prompted when omitted).",
)
def create_user_command(email: str, role: str, name: str | None, password: str) -> None:
    """Create a user who can sign in with EMAIL."""
    try:
        user = create_user(email, password, role, name=name)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"Created {user.email} ({user.role.value}).")
