"""flask users ... commands."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.auth.models import Role
from app.auth.service import create_user, deactivate_user, find_user_by_email, set_password
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


def _user_or_fail(email: str):
    user = find_user_by_email(email)
    if user is None:
        raise click.ClickException(f"No user has the email {email}")
    return user


@users_cli.command("deactivate")
@click.argument("email")
def deactivate_user_command(email: str) -> None:
    """Refuse EMAIL's sign-ins and end every session they have (their history is kept)."""
    user = _user_or_fail(email)
    try:
        deactivate_user(user, actor=None)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"Deactivated {user.email}: every session ended, sign-in refused.")


@users_cli.command("set-password")
@click.argument("email")
@click.option(
    "--password",
    prompt="New password",
    hide_input=True,
    confirmation_prompt=True,
    help="The new password (prompted when omitted).",
)
def set_password_command(email: str, password: str) -> None:
    """Give EMAIL a new password; every session they have ends."""
    user = _user_or_fail(email)
    try:
        set_password(user, password, actor=None)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"New password set for {user.email}; their sessions have ended.")
