"""flask reports ...: the headline figures for scripts and checks from outside."""

from __future__ import annotations

import json
from datetime import date

import click
from flask.cli import AppGroup

from app.reports.filters import parse_filters
from app.reports.funnel import FunnelReport, funnel_report, parse_campaign

reports_cli = AppGroup("reports", help="Report figures.")


def headline_figures(report: FunnelReport) -> dict:
    """The funnel's headline figures as one JSON object: the same numbers as the funnel page and its CSV.

    recovered_revenue is in the reporting currency (`currency`); amounts without a rate are left out of it,
    as on the funnel page.
    """
    overall = report.overall
    return {
        "enrolled": overall.enrolled,
        "reached": overall.reached,
        "responded": overall.responded,
        "requalified": overall.requalified,
        "accepted": overall.accepted,
        "won": overall.won,
        "recovered_revenue": f"{overall.recovered.total:.2f}",
        "currency": report.currency,
        "channels": {
            row.channel: {"contacted": row.contacted, "reached": row.reached, "responded": row.responded}
            for row in report.channels
        },
    }


@reports_cli.command("figures")
@click.option("--from", "start", metavar="YYYY-MM-DD", help="First day of the period (the funnel's default).")
@click.option("--to", "end", metavar="YYYY-MM-DD", help="Last day of the period (default: today).")
@click.option("--campaign", "campaign", metavar="ID", help="One campaign's funnel (default: every campaign).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def figures_command(start: str | None, end: str | None, campaign: str | None, as_json: bool) -> None:
    """The funnel's headline figures for the period, computed as the funnel page computes them."""
    args = {"from": start or "", "to": end or "", "campaign": campaign or ""}
    filters, errors = parse_filters(args, today=date.today())
    campaign_id = parse_campaign(args, errors)
    if errors:
        raise click.UsageError(" ".join(errors))
    figures = headline_figures(funnel_report(filters.start, filters.end, campaign_id=campaign_id))
    if as_json:
        click.echo(json.dumps(figures))
        return
    for key, value in figures.items():
        click.echo(f"{key.replace('_', ' ')}: {value}")
