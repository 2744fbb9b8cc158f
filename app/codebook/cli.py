"""flask codebook import|export FILE.csv (columns code, label, definition, example, polarity, active)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from app.codebook.transfer import MAX_CODEBOOK_BYTES, codebook_text, export_codebook_csv, import_codebook_csv
from app.errors import ValidationError
from app.extensions import db

codebook_cli = AppGroup("codebook", help="The codebook of win/loss reasons: CSV import and export.")


@codebook_cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def import_command(path: Path) -> None:
    """Add and update codes from a CSV file; never deletes. A bad row stops the whole file."""
    try:
        with path.open("rb") as handle:
            text = codebook_text(handle.read(MAX_CODEBOOK_BYTES + 1))
    except OSError as error:
        click.echo(f"Error: cannot read {path}: {error}", err=True)
        sys.exit(2)
    except ValidationError as error:
        click.echo(f"Error: {path}: {error.message}", err=True)
        sys.exit(2)
    result = import_codebook_csv(io.StringIO(text, newline=""))
    if result.errors:
        db.session.rollback()
        for line, message in result.errors:
            click.echo(f"line {line}: {message}", err=True)
        click.echo("Nothing was imported.", err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(f"Codebook imported: {result.created} added, {result.updated} updated.")


@codebook_cli.command("export")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def export_command(path: Path) -> None:
    """Write the whole codebook (retired codes included) as CSV."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        count = export_codebook_csv(handle)
    click.echo(f"Exported {count} codes to {path}.")
