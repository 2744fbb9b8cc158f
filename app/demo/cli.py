"""flask demo load."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.db_types import utcnow
from app.demo.service import database_is_empty, load_demo
from app.errors import DomainError
from app.extensions import db
from surveys.demo import fresh_demo_link

demo_cli = AppGroup("demo", help="Demo data for trying Winback out.")

LOGINS_FILE = "demo-logins.txt"


def _logins_path() -> Path:
    return Path(current_app.config["INSTANCE_DIR"]) / LOGINS_FILE


@demo_cli.command("load")
@click.option("--seed", default=2026, show_default=True, help="Same seed and day, same data.")
@click.option("--if-empty", is_flag=True, help="Do nothing (and succeed) when data is already there.")
def load_command(seed: int, if_empty: bool) -> None:
    """Create demo users (one per role) and a realistic lost-deal data set."""
    if if_empty and not database_is_empty():
        click.echo("Demo data already loaded; nothing to do.")
        if _logins_path().exists():
            click.echo(f"Demo logins (kept in {_logins_path()}):")
            click.echo(_logins_path().read_text().rstrip())
            _echo_fresh_link()
        return
    try:
        result = load_demo(seed=seed, today=date.today(), now=utcnow())
    except DomainError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    lines = [f"{login.role.value:<14} {login.email:<24} {login.password}" for login in result.logins]
    path = _logins_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    click.echo(
        f"Loaded {result.accounts} accounts, {result.contacts} contacts, "
        f"{result.opportunities} opportunities ({result.lost} lost)."
    )
    if result.survey_link:
        click.echo(result.survey_summary)
        click.echo(f"Survey link: {result.survey_link}")
    click.echo(f"Demo logins (also kept in {path}):")
    click.echo("\n".join(lines))


@demo_cli.command("logins")
def logins_command() -> None:
    """Print the demo logins created by `demo load`, and a fresh, unanswered survey link."""
    path = _logins_path()
    if not path.exists():
        raise click.ClickException("No demo logins here: run `flask --app wsgi demo load` first")
    click.echo(path.read_text().rstrip())
    _echo_fresh_link()


def _echo_fresh_link() -> None:
    link = fresh_demo_link(now=utcnow())
    db.session.commit()
    if link:
        click.echo(f"Survey link (new, unanswered): {link}")
    else:
        click.echo("No published survey yet, so no survey link.")
