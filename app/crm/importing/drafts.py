"""An uploaded file waiting for its mapping (a draft batch): read its header, apply the admin's choices,
start a dry run or an import of it. The import pages call these; they hold no request or form."""

from __future__ import annotations

from collections.abc import Mapping as ConfigMapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from app.crm.importing.campaign_matches import CampaignMatch, any_active_campaign, campaign_matches
from app.crm.importing.formats import FIELDS, LOST_STAGES, TARGETS, WON_STAGES, Mapping
from app.crm.importing.models import BatchStatus, ImportBatch
from app.crm.importing.parsing import open_table
from app.crm.importing.records import ImportSettings, Record
from app.crm.importing.service import Preview, choose_mapping, save_mapping
from app.crm.importing.upsert import Upserter
from app.errors import NotFound
from app.extensions import db


def draft_settings(batch: ImportBatch, config: ConfigMapping) -> ImportSettings:
    """The settings chosen at upload, the app's defaults (DEFAULT_PHONE_REGION, DEFAULT_CURRENCY) else."""
    s = batch.settings or {}
    return ImportSettings.from_config(
        config,
        day_first=s.get("day_first", False),
        default_country=s.get("default_country"),
        default_currency=s.get("default_currency"),
    )


def draft_path(batch: ImportBatch) -> Path:
    """The stored upload of a batch; NotFound once it was deleted (retention) or never kept."""
    path = Path(batch.stored_path) if batch.stored_path else None
    if path is None or not path.is_file():
        raise NotFound("The file of this import is no longer stored: upload it again")
    return path


def draft_mapping(batch: ImportBatch) -> tuple[list[str], Mapping]:
    """The file's header and the mapping to read it with: the admin's, else the saved or detected one."""
    table = open_table(draft_path(batch))
    header = table.header
    table.close()
    stored = (batch.settings or {}).get("mapping")
    if stored:
        return header, Mapping(**stored)
    return header, choose_mapping(header, batch.format or None, batch.mapping_name)


@dataclass
class MappingChoices:
    """What the admin chose on the preview page."""

    target: str | None
    columns: dict[str, str]  # field -> column, for the fields the page showed
    lost_stages: list[str]
    won_stages: list[str]
    natural_key: bool
    save_as: str | None = None


def apply_mapping_choices(
    batch: ImportBatch, mapping: Mapping, choices: MappingChoices, settings: ImportSettings
) -> bool:
    """Store the admin's mapping on the draft (and save it by name when asked); True if the target changed."""
    target_changed = choices.target in TARGETS and choices.target != mapping.target
    if choices.target in TARGETS:
        mapping.target = choices.target
    # A field the page did not show (account files show account fields only) keeps its column.
    columns = {f: choices.columns.get(f, mapping.columns.get(f, "")) for f in FIELDS}
    mapping.columns = {f: c for f, c in columns.items() if c}
    mapping.lost_stages = choices.lost_stages or list(LOST_STAGES)
    mapping.won_stages = choices.won_stages or list(WON_STAGES)
    if choices.natural_key:
        mapping.key = "natural"
    elif mapping.key == "natural":  # unticked: back to the id column (or to asking for one)
        mapping.key = "id"
    if mapping.format not in ("salesforce", "salesforce_api", "hubspot"):
        mapping.format = "generic"
    batch.settings = {**(batch.settings or {}), "mapping": vars(mapping)}
    if choices.save_as:
        save_mapping(choices.save_as, mapping, settings, crm_source=mapping.crm_source)
    db.session.flush()
    return target_changed


def new_run(
    draft: ImportBatch,
    mapping: Mapping,
    *,
    dry_run: bool,
    user_id: int | None,
    actor_label: str,
    now: datetime,
) -> ImportBatch:
    """A batch that runs the draft's file with this mapping (a dry run or the import)."""
    run = ImportBatch(
        filename=draft.filename,
        stored_path=draft.stored_path,
        via=draft.via or "ui",
        user_id=user_id,
        actor_label=actor_label,
        format=mapping.format,
        mapping_name=mapping.name,
        dry_run=dry_run,
        created_at=now,
        settings={**_without_mapping(draft.settings), "draft_id": draft.id},
        size_bytes=draft.size_bytes,
        status=BatchStatus.DRAFT,  # queued next (jobs.queue_run)
    )
    db.session.add(run)
    db.session.flush()
    return run


def _without_mapping(settings: dict | None) -> dict:
    return {k: v for k, v in (settings or {}).items() if k != "mapping"}


def preview_campaign_matches(preview: Preview, *, now: datetime) -> list[CampaignMatch]:
    """Which of the previewed lost deals active campaigns would pick up: written in a savepoint to be
    matched by the campaigns' own rules, then rolled back (nothing is kept)."""
    records = [
        row.record for row in preview.rows if isinstance(row.record, Record) and row.record.status == "lost"
    ]
    if not records or not any_active_campaign():
        return []
    unique = list({record.crm_id: record for record in records}.values())
    savepoint = db.session.begin_nested()
    try:
        upserter = Upserter(
            preview.mapping.crm_source, now=now, actor_label="preview", batch_id=None, want_ids=False
        )
        upserter.upsert(unique)
        return campaign_matches(preview.mapping.crm_source, [r.crm_id for r in unique], now=now)
    finally:
        savepoint.rollback()
