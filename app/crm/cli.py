"""flask crm import PATH: the same import service as the upload page, for scheduled jobs."""

from __future__ import annotations

import json
import sys
from datetime import UTC
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.crm.importing.formats import FORMAT_CHOICES, TARGETS
from app.crm.importing.parsing import UnreadableFile, open_table
from app.crm.importing.records import ImportSettings
from app.crm.importing.service import choose_mapping, load_mapping, run_import, start_batch
from app.crm.sync import SOURCES, connector_for
from app.crm.sync.service import run_sync
from app.db_types import utcnow
from app.errors import DomainError
from app.extensions import db

crm_cli = AppGroup(
    "crm", help="CRM data: import exports from Salesforce, HubSpot or any CSV/XLSX; sync with the CRM live."
)
UNREADABLE = 2


def _fail(message: str, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"error": message}))
    else:
        click.echo(f"Error: {message}", err=True)
    sys.exit(UNREADABLE)


@crm_cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "format_name", type=click.Choice(FORMAT_CHOICES), help="Detected from the header.")
@click.option("--mapping", "mapping_name", help="A saved column mapping, by name.")
@click.option("--dry-run", is_flag=True, help="Count what would happen; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the counts.")
@click.option("--day-first", is_flag=True, help="Read 01/02/2026 as 1 February (default: 2 January).")
@click.option("--default-country", default=None, help="Country for phone numbers without one (default US).")
@click.option("--natural-key", is_flag=True, help="No id column: key by account + name + close date.")
@click.option(
    "--target",
    type=click.Choice(TARGETS),
    help="What each row is (default: the saved mapping's, or detected from the header).",
)
def import_command(
    path, format_name, mapping_name, dry_run, as_json, day_first, default_country, natural_key, target
):
    """Import an export file; exit 0 when it was processed (even with failed rows), 2 when unreadable."""
    now = utcnow()
    try:
        settings = ImportSettings.from_config(
            current_app.config, day_first=day_first, default_country=default_country
        )
        if mapping_name:
            saved = load_mapping(mapping_name).settings or {}
            settings = ImportSettings.from_config(
                current_app.config,
                day_first=day_first or saved.get("day_first", False),
                default_country=default_country or saved.get("default_country"),
                default_currency=saved.get("default_currency"),
            )
        table = open_table(path)
        header = table.header
        table.close()
        mapping = choose_mapping(header, format_name, mapping_name)
    except (UnreadableFile, DomainError) as error:
        _fail(error.message, as_json)
    if target:
        mapping.target = target
    if natural_key:
        mapping.key = "natural"
    elif mapping.key == "id" and not mapping.has_id_column():
        _fail(
            "The file has no opportunity id column; pass --natural-key to key rows by account, "
            "name and close date (a renamed opportunity will then arrive as a new one)",
            as_json,
        )
    batch = start_batch(
        filename=path.name, via="cli", actor_label="cli", settings=settings, dry_run=dry_run, now=now
    )
    db.session.commit()
    try:
        run_import(batch, path, mapping, settings, now=now, checkpoint=db.session.commit)
    except UnreadableFile as error:
        db.session.commit()
        _fail(error.message, as_json)
    db.session.commit()
    counts = {k: getattr(batch, k) for k in ("created", "updated", "unchanged", "failed", "warnings")}
    if as_json:
        click.echo(json.dumps({**counts, "batch_id": batch.id, "dry_run": dry_run}))
        return
    prefix = "Dry run: would have " if dry_run else ""
    click.echo(
        f"{prefix}{counts['created']} created, {counts['updated']} updated, {counts['unchanged']} unchanged, "
        f"{counts['failed']} failed, {counts['warnings']} imported with warnings (batch {batch.id})."
    )
    if batch.message:
        click.echo(batch.message)


SYNC_FAILED = 1


@crm_cli.command("sync")
@click.argument("source", type=click.Choice(SOURCES))
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Pull what changed from this day on (UTC) instead of since the last run's mark.",
)
@click.option("--dry-run", is_flag=True, help="Count what would happen; change nothing here or in the CRM.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the counts.")
def sync_command(source, since, dry_run, as_json):
    """Push the accepted deals waiting, then pull what changed; exit 1 when the CRM refused the connection."""
    now = utcnow()
    result = run_sync(
        connector_for(source, current_app.config),
        since=since.replace(tzinfo=UTC) if since else None,
        dry_run=dry_run,
        settings=ImportSettings.from_config(current_app.config),
        now=now,
        checkpoint=db.session.commit,
    )
    db.session.commit()
    if as_json:
        click.echo(json.dumps(result.counts()))
    else:
        prefix = "Dry run: would have " if dry_run else ""
        counts = result.counts()
        click.echo(f"{prefix}" + ", ".join(f"{value} {name}" for name, value in counts.items()) + ".")
    if result.error:
        click.echo(f"Error: the {source} connection failed: {result.error}", err=True)
        sys.exit(SYNC_FAILED)
