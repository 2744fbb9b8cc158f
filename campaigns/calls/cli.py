"""flask calls fill | stats | assign."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.auth.models import Role
from app.auth.service import find_user_by_email
from app.db_types import utcnow
from app.extensions import db
from campaigns.calls.queue import CALL_KINDS, fill_queue, queue_counts
from campaigns.models import Campaign, CampaignStatus

calls_cli = AppGroup("calls", help="The call queue: fill it, count it, assign callers.")


def _calls_campaign(campaign_id: int) -> Campaign:
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        raise click.ClickException(f"No campaign {campaign_id}")
    if campaign.kind not in CALL_KINDS:
        raise click.ClickException(f"Campaign {campaign_id} makes no calls ({campaign.kind.label})")
    return campaign


@calls_cli.command("fill")
@click.option("--campaign", "campaign_id", type=int, help="Only this campaign.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as one JSON object.")
def fill_command(campaign_id: int | None, as_json: bool) -> None:
    """Queue a call for every new enrollment of the active calls campaigns; running it again adds nothing."""
    campaign = _calls_campaign(campaign_id) if campaign_id is not None else None
    if campaign is not None and campaign.status is not CampaignStatus.ACTIVE:
        raise click.ClickException(f"Campaign {campaign_id} is {campaign.status.value}, not active")
    results = fill_queue(now=utcnow(), campaign=campaign)
    db.session.commit()
    created = sum(result.created for result in results)
    if as_json:
        click.echo(json.dumps({"created": created, "campaigns": [result.to_json() for result in results]}))
        return
    if not results:
        click.echo("No active calls campaigns.")
    for result in results:
        click.echo(f"{result.campaign}: {result.created} queued, {result.cancelled} cancelled")
    click.echo(f"Total: {created} new call tasks.")


@calls_cli.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as one JSON object.")
def stats_command(as_json: bool) -> None:
    """The live queue counts over every active calls campaign."""
    counts = queue_counts(now=utcnow()).to_json()
    if as_json:
        click.echo(json.dumps(counts))
        return
    for name, value in counts.items():
        click.echo(f"{name.replace('_', ' ')}: {value}")


@calls_cli.command("assign")
@click.argument("emails", nargs=-1, required=True)
@click.option(
    "--campaign", "campaign_id", type=int, help="Only this campaign (default: every active calls campaign)."
)
def assign_command(emails: tuple[str, ...], campaign_id: int | None) -> None:
    """Add existing caller accounts to a calls campaign."""
    users = []
    for email in emails:
        user = find_user_by_email(email)
        if user is None:
            raise click.ClickException(f"No user {email}")
        if user.role is not Role.CALLER or not user.active:
            raise click.ClickException(f"{email} is not an active caller")
        users.append(user)
    if campaign_id is not None:
        campaigns = [_calls_campaign(campaign_id)]
    else:
        campaigns = list(
            db.session.scalars(
                select(Campaign).where(
                    Campaign.status == CampaignStatus.ACTIVE, Campaign.kind.in_(CALL_KINDS)
                )
            )
        )
        if not campaigns:
            raise click.ClickException("No active calls campaign")
    for campaign in campaigns:
        for user in users:
            if user not in campaign.callers:
                campaign.callers.append(user)
        click.echo(f"{campaign.name}: {', '.join(user.email for user in campaign.callers)}")
    db.session.commit()
