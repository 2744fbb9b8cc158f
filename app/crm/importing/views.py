"""Import pages: upload, preview as mapped, fix the mapping, dry run, import, result, history."""

from __future__ import annotations

import uuid
from pathlib import Path

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms import SelectChoice

from app.auth.guard import roles_required
from app.auth.models import Role
from app.changes import domain_change
from app.crm.forms import ActionForm
from app.crm.importing import jobs
from app.crm.importing.campaign_matches import deals_picked_up
from app.crm.importing.drafts import (
    MappingChoices,
    apply_mapping_choices,
    draft_mapping,
    draft_path,
    draft_settings,
    new_run,
    preview_campaign_matches,
)
from app.crm.importing.formats import ACCOUNT_FIELDS, FIELDS, Mapping
from app.crm.importing.forms import MappingForm, UploadForm
from app.crm.importing.models import BatchStatus, ImportBatch, ImportMapping
from app.crm.importing.parsing import UnreadableFile
from app.crm.importing.records import ImportSettings
from app.crm.importing.service import error_file, preview_file
from app.crm.sync.service import sync_connections
from app.db_types import utcnow
from app.downloads import content_disposition
from app.errors import DomainError
from app.extensions import db

bp = Blueprint("imports", __name__, url_prefix="/imports")
admin_only = roles_required(Role.ADMIN)


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


@bp.get("/")
@admin_only
def history():
    batches = db.paginate(
        select(ImportBatch).where(ImportBatch.status != BatchStatus.DRAFT).order_by(ImportBatch.id.desc()),
        per_page=50,
        error_out=False,
    )
    return render_template("imports/history.html", page=batches, connections=sync_connections())


@bp.route("/new", methods=["GET", "POST"])
@admin_only
def upload():
    form = UploadForm()
    names = db.session.scalars(select(ImportMapping.name).order_by(ImportMapping.name)).all()
    form.mapping.choices = [SelectChoice("", "None")] + [SelectChoice(n, n) for n in names]
    if form.validate_on_submit():
        folder = Path(current_app.config["INSTANCE_DIR"]) / "imports"
        folder.mkdir(parents=True, exist_ok=True)
        original = form.file.data.filename or "upload.csv"
        path = folder / f"{uuid.uuid4().hex}{Path(original).suffix.lower()}"
        form.file.data.save(path)
        batch = ImportBatch(
            filename=original[:255],
            stored_path=str(path),
            via="ui",
            user_id=current_user.id,
            actor_label=current_user.email,
            format=form.format.data or None,
            mapping_name=form.mapping.data or None,
            size_bytes=path.stat().st_size,
            settings={
                "day_first": form.day_first.data,
                "default_country": form.default_country.data.strip().upper(),
                "default_currency": form.default_currency.data.strip().upper(),
            },
        )
        db.session.add(batch)
        db.session.commit()
        return redirect(url_for("imports.preview", batch_id=batch.id))
    if request.method == "GET":
        form.default_country.data = current_app.config.get("DEFAULT_PHONE_REGION") or "US"
        form.default_currency.data = current_app.config.get("DEFAULT_CURRENCY") or "USD"
    return render_template("imports/upload.html", form=form)


@bp.route("/<int:batch_id>/preview", methods=["GET", "POST"])
@admin_only
def preview(batch_id: int):
    draft = db.get_or_404(ImportBatch, batch_id)
    draft_path(draft)  # 404 when the file is gone
    settings = draft_settings(draft, current_app.config)
    form = MappingForm()
    try:
        header, mapping = draft_mapping(draft)
    except (UnreadableFile, DomainError) as error:
        flash(error.message, "error")
        return redirect(url_for("imports.upload"))
    if form.validate_on_submit():
        choices = MappingChoices(
            target=form.target.data,
            columns={f: request.form[f"col_{f}"] for f in FIELDS if f"col_{f}" in request.form},
            lost_stages=_csv(form.lost_stages.data or ""),
            won_stages=_csv(form.won_stages.data or ""),
            natural_key=bool(form.confirm_natural_key.data),
            save_as=(form.save_as.data or "").strip() or None,
        )
        target_changed = apply_mapping_choices(draft, mapping, choices, settings)
        if choices.save_as:
            flash(f"Mapping saved as '{choices.save_as}'.", "success")
        db.session.commit()
        action = "preview" if target_changed else request.form.get("action", "preview")
        if action in ("dry_run", "import"):
            if mapping.key == "id" and not mapping.has_id_column():
                flash("This file has no opportunity id column: confirm the natural key first.", "error")
            else:
                return _start_run(draft, mapping, settings, dry_run=action == "dry_run")
    elif request.method == "GET":
        form.lost_stages.data = ", ".join(mapping.lost_stages)
        form.won_stages.data = ", ".join(mapping.won_stages)
        form.confirm_natural_key.data = mapping.key == "natural"
        form.target.data = mapping.target
    result = preview_file(draft_path(draft), mapping, settings)
    fields = ACCOUNT_FIELDS if mapping.for_accounts else FIELDS
    found = preview_campaign_matches(result, now=utcnow())
    return render_template(
        "imports/preview.html",
        batch=draft,
        form=form,
        preview=result,
        fields=fields,
        campaign_matches=[m.to_json() for m in found],
        campaign_matched_deals=deals_picked_up(found),
        campaign_matches_intro=f"Of the first {len(result.rows)} rows shown below; the dry run counts the "
        "whole file. Once imported, these deals can be enrolled and their contacts contacted the next time "
        "enrollment runs.",
    )


@bp.post("/<int:batch_id>/import")
@admin_only
def import_dry_run(batch_id: int):
    """Import the file a dry run read, with the same mapping: the Import button of the dry-run page."""
    dry = db.get_or_404(ImportBatch, batch_id)
    form = ActionForm()
    draft_id = (dry.settings or {}).get("draft_id") or request.form.get("draft", type=int)
    draft = db.get_or_404(ImportBatch, draft_id) if draft_id else None
    if not form.validate_on_submit() or draft is None or not dry.dry_run:
        flash("Start the import from its preview.", "error")
        return redirect(url_for("imports.result", batch_id=dry.id))
    draft_path(draft)
    header, mapping = draft_mapping(draft)
    return _start_run(draft, mapping, draft_settings(draft, current_app.config), dry_run=False)


def _start_run(draft: ImportBatch, mapping: Mapping, settings: ImportSettings, *, dry_run: bool):
    """Queue the dry run or the import for `flask worker`; its page shows the progress."""
    run = new_run(
        draft, mapping, dry_run=dry_run, user_id=current_user.id, actor_label=current_user.email, now=utcnow()
    )
    jobs.queue_run(run, mapping)
    db.session.commit()
    return redirect(url_for("imports.result", batch_id=run.id, draft=draft.id))


@bp.post("/<int:batch_id>/rerun")
@admin_only
def rerun(batch_id: int):
    """Run a failed (or finished) dry run or import again, with the same file and mapping."""
    batch = db.get_or_404(ImportBatch, batch_id)
    form = ActionForm()
    if not form.validate_on_submit():
        return redirect(url_for("imports.result", batch_id=batch.id))
    with domain_change() as change:
        run = jobs.rerun(batch, user_id=current_user.id, actor_label=current_user.email, now=utcnow())
    if change:
        return redirect(url_for("imports.result", batch_id=run.id))
    return redirect(url_for("imports.result", batch_id=batch.id))


@bp.get("/<int:batch_id>")
@admin_only
def result(batch_id: int):
    batch = db.get_or_404(ImportBatch, batch_id)
    errors = batch.errors[:50]
    return render_template(
        "imports/result.html",
        batch=batch,
        errors=errors,
        draft_id=request.args.get("draft", type=int),
        form=ActionForm(),
        campaign_matches=(batch.settings or {}).get("campaign_matches") or [],
        campaign_matched_deals=(batch.settings or {}).get("campaign_matched_deals"),
    )


@bp.get("/<int:batch_id>/errors.csv")
@admin_only
def errors_csv(batch_id: int):
    batch = db.get_or_404(ImportBatch, batch_id)
    name = f"{Path(batch.filename or 'import.csv').stem}-errors.csv"
    return Response(
        error_file(batch),
        mimetype="text/csv",
        headers={"Content-Disposition": content_disposition(name)},
    )
