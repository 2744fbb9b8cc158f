"""flask pipeline evaluate | stats | export: the same services the pages use."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click
from flask.cli import AppGroup

from app.db_types import utcnow
from app.extensions import db
from app.pipeline.recycling import FORMATS, export_csv, pipeline_stats
from app.pipeline.service import evaluate_all

pipeline_cli = AppGroup("pipeline", help="Requalifications: evaluate responses, figures, export to the CRM.")


@pipeline_cli.command("evaluate")
def evaluate_command() -> None:
    """Evaluate every completed response not evaluated yet (safe to repeat)."""
    result = evaluate_all(now=utcnow(), checkpoint=db.session.commit)
    db.session.commit()
    click.echo(
        f"{result.responses} responses evaluated: {result.created} new requalifications, "
        f"{result.joined} added to an open one; {result.calls} requalified calls."
    )


@pipeline_cli.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def stats_command(as_json: bool) -> None:
    """Pending, accepted, rejected, deferred, exported, recycled and recovered revenue."""
    stats = pipeline_stats()
    db.session.commit()
    if as_json:
        click.echo(json.dumps(stats))
        return
    for key, value in stats.items():
        click.echo(f"{key.replace('_', ' ')}: {value}")


def _parse_date(_ctx, _param, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use the format YYYY-MM-DD") from None


@pipeline_cli.command("export")
@click.option("--format", "export_format", type=click.Choice(FORMATS), required=True)
@click.option("--since", callback=_parse_date, help="Only those accepted on or after this date (YYYY-MM-DD).")
@click.option(
    "--all", "include_all", is_flag=True, help="Every accepted one, not only those not yet in the CRM."
)
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def export_command(export_format: str, since: date | None, include_all: bool, file: Path) -> None:
    """Write the accepted requalifications not yet in the CRM (--all: every one) as a Salesforce or
    HubSpot import file (UTF-8 with BOM), and mark them exported."""
    text, count = export_csv(export_format, now=utcnow(), since=since, include_all=include_all)
    file.write_bytes(text.encode("utf-8"))
    db.session.commit()
    click.echo(f"{count} requalifications written to {file}")
