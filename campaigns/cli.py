"""flask campaigns enroll."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from app.database import commit_checkpoint
from app.db_types import utcnow
from app.errors import DomainError
from app.extensions import db
from campaigns.enrollment import enroll_active_campaigns, enroll_campaign
from campaigns.models import Campaign

campaigns_cli = AppGroup("campaigns", help="Campaigns: enrollment of lost deals.")


@campaigns_cli.command("enroll")
@click.option("--campaign", "campaign_id", type=int, help="Only this campaign (it must be active).")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as one JSON object.")
def enroll_command(campaign_id: int | None, as_json: bool) -> None:
    """Enroll new matches of every active campaign; running it again creates nothing new."""
    now = utcnow()
    try:
        if campaign_id is not None:
            campaign = db.session.get(Campaign, campaign_id)
            if campaign is None:
                raise click.ClickException(f"No campaign {campaign_id}")
            # Committed a few thousand accounts at a time: other writers never wait long (SQLite).
            results = [enroll_campaign(campaign, now=now, checkpoint=commit_checkpoint)]
        else:
            results = enroll_active_campaigns(now=now, checkpoint=commit_checkpoint)
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    db.session.commit()
    if as_json:
        click.echo(
            json.dumps(
                {"created": sum(r.created for r in results), "campaigns": [r.to_json() for r in results]}
            )
        )
        return
    if not results:
        click.echo("No active campaigns.")
    for result in results:
        details = (
            ", ".join(f"{status} {count}" for status, count in result.by_status.items()) or "nothing new"
        )
        click.echo(f"{result.campaign}: {result.created} enrolled ({details})")
        for reason, count in result.by_reason.items():
            click.echo(f"  suppressed, {reason}: {count}")
    click.echo(f"Total: {sum(r.created for r in results)} new enrollments.")
