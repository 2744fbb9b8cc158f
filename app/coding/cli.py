"""flask coding ...: train, evaluate, import, agreement, backfill (the same services as the pages)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from app.coding import agreement as agreement_service
from app.coding import qdpx, suggest
from app.coding.importing import import_codings
from app.coding.sample import coder_names
from app.coding.service import backfill_choice_codings
from app.db_types import utcnow
from app.extensions import db

coding_cli = AppGroup(
    "coding", help="Coding answers into win/loss reasons: train, evaluate, import, agreement."
)
UNREADABLE = 2


@coding_cli.command("train")
def train_command() -> None:
    """Train the suggestion model on every confirmed coding."""
    try:
        model = suggest.train(now=utcnow())
    except suggest.NotEnoughData as error:
        click.echo(f"Error: {error.message}", err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(f"Trained model {model.id} on {model.examples} answers and {model.codes} codes.")


@coding_cli.command("evaluate")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--seed", default=42, show_default=True, type=int)
def evaluate_command(as_json: bool, seed: int) -> None:
    """Hold out a seeded, stratified 20% of the confirmed codings; print per-code precision, recall, F1."""
    try:
        result = suggest.evaluate(now=utcnow(), seed=seed)
    except suggest.NotEnoughData as error:
        click.echo(
            json.dumps({"error": error.message}) if as_json else f"Error: {error.message}", err=not as_json
        )
        sys.exit(1)
    db.session.commit()
    if as_json:
        click.echo(json.dumps(result.as_json()))
        return
    click.echo(f"{'code':40} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>7}")
    for code, f in sorted(result.codes.items()):
        click.echo(f"{code:40} {f['precision']:9.3f} {f['recall']:7.3f} {f['f1']:6.3f} {f['support']:7d}")
    click.echo(f"macro-F1 {result.macro_f1:.3f} (train {result.train}, test {result.test})")


@coding_cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def import_command(path: Path, as_json: bool) -> None:
    """Load answers coded elsewhere (columns text, code; optional id, coder, question)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        message = f"cannot read {path}: {error}"
        click.echo(json.dumps({"error": message}) if as_json else f"Error: {message}", err=not as_json)
        sys.exit(UNREADABLE)
    result = import_codings(io.StringIO(text, newline=""), now=utcnow())
    db.session.commit()
    if as_json:
        click.echo(json.dumps(result.as_json()))
        return
    click.echo(f"Imported {result.answers} answers and {result.codings} codings.")
    for error in result.errors:
        click.echo(f"line {error['line']}: {error['message']}", err=True)


@coding_cli.command("agreement")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def agreement_command(as_json: bool) -> None:
    """Cohen's kappa per code and overall, and Krippendorff's alpha."""
    result = agreement_service.measure_agreement()
    if as_json:
        click.echo(json.dumps(result.as_json()))
        return
    figures = result.as_json()
    names = coder_names(result.coders or ())
    pair = " and ".join(names[key] for key in result.coders) if result.coders else "no two coders"
    click.echo(f"Coders compared: {pair} ({result.answers} answers in common)")
    for code, f in sorted(figures["codes"].items()):
        kappa = f["kappa"]
        click.echo(f"{code:40} kappa {kappa if kappa is not None else 'n/a':>8} n={f['n']}")
    overall = figures["overall"]
    click.echo(
        f"overall kappa {overall['kappa']} ({agreement_service.kappa_label(result.overall_kappa)}), "
        f"alpha {overall['alpha']}"
    )


@coding_cli.command("backfill")
def backfill_command() -> None:
    """Code the choice answers of responses completed before coding existed (safe to run again)."""
    added = backfill_choice_codings(now=utcnow())
    db.session.commit()
    click.echo(f"Added {added} option coding{'s' if added != 1 else ''}.")


@coding_cli.command("export-qdpx")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def export_qdpx_command(path: Path) -> None:
    """Write the codebook, coded answers and coded segments as a REFI-QDA project (.qdpx)."""
    try:
        result = qdpx.export_qdpx(path, now=utcnow())
    except OSError as error:
        click.echo(f"Error: cannot write {path}: {error}", err=True)
        sys.exit(UNREADABLE)
    click.echo(
        f"Exported {result.codes} codes, {result.sources} sources and {result.codings} codings to {path}."
    )


@coding_cli.command("import-qdpx")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def import_qdpx_command(path: Path, as_json: bool) -> None:
    """Load a REFI-QDA project (.qdpx): missing codes, its text sources and their coded segments."""
    try:
        result = qdpx.import_qdpx(path, now=utcnow())
    except qdpx.UnreadableProject as error:
        message = str(error)
        click.echo(json.dumps({"error": message}) if as_json else f"Error: {message}", err=not as_json)
        sys.exit(UNREADABLE)
    db.session.commit()
    if as_json:
        click.echo(json.dumps(result.as_json()))
        return
    click.echo(f"Imported {result.codes} codes, {result.answers} answers and {result.codings} codings.")
    for error in result.errors:
        click.echo(f"{error['source']}: {error['message']}", err=True)
