"""flask surveys ...: reminders, closing stale responses, the ready-made template."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.database import commit_checkpoint
from app.db_types import utcnow
from app.extensions import db
from surveys.invitations import DEFAULT_SENDER, close_stale_responses, send_due_reminders
from surveys.library import WIN_LOSS, create_from_template

surveys_cli = AppGroup("surveys", help="Survey invitations, reminders and templates.")


@surveys_cli.command("remind")
@click.option(
    "--sender",
    default=DEFAULT_SENDER,
    show_default=True,
    help="Signature of reminders for invitations sent outside a campaign (a campaign signs its own).",
)
def remind_command(sender: str) -> None:
    """Queue the reminders that are due, exactly as the worker does.

    A campaign's invitations are reminded in its words, and only while it is active (none for a paused,
    draft or finished campaign); invitations sent outside a campaign use the default words.
    """
    count = send_due_reminders(now=utcnow(), sender=sender, checkpoint=commit_checkpoint)
    db.session.commit()
    click.echo(f"Queued {count} reminder{'s' if count != 1 else ''}.")


@surveys_cli.command("close-stale")
@click.option("--after-days", default=14, show_default=True, type=click.IntRange(min=1))
def close_stale_command(after_days: int) -> None:
    """Close responses left incomplete for N days (they stay as partial data)."""
    count = close_stale_responses(now=utcnow(), after_days=after_days, checkpoint=commit_checkpoint)
    db.session.commit()
    click.echo(f"Closed {count} incomplete response{'s' if count != 1 else ''}.")


@surveys_cli.command("create-win-loss")
@click.option("--name", default="Win/loss survey", show_default=True)
def create_win_loss_command(name: str) -> None:
    """Create a draft survey from the ready-made win/loss template."""
    survey = create_from_template(WIN_LOSS, now=utcnow(), name=name)
    db.session.commit()
    click.echo(
        f"Created survey {survey.id} ({survey.name}) as a draft "
        f"with {len(survey.versions[0].questions)} questions."
    )
