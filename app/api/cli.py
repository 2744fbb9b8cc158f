"""flask api-tokens create NAME [--scope SCOPE ...]."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.api.models import ALL_SCOPES
from app.api.service import create_token
from app.db_types import utcnow
from app.errors import DomainError
from app.extensions import db

api_tokens_cli = AppGroup("api-tokens", help="Bearer tokens for the push API.")


@api_tokens_cli.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(ALL_SCOPES),
    help="What the token may do; repeat for several. Without it: every scope.",
)
def create_command(name: str, scopes: tuple[str, ...]) -> None:
    """Create a token for an integration and print it (it is shown only this once)."""
    try:
        token, secret = create_token(name, scopes=scopes or None, now=utcnow())
    except DomainError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(secret)
    click.echo(
        f"Token '{token.name}' created with scopes {', '.join(token.scopes)}; store it now, "
        "it will not be shown again.",
        err=True,
    )
