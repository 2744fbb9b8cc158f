"""The codebook editor (admins and analysts): tree, create, edit, move, merge, retire, CSV in and out."""

from __future__ import annotations

import io

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import SelectChoice

from app.audit.models import AuditEvent
from app.auth.guard import roles_required
from app.auth.models import Role
from app.changes import domain_change
from app.codebook import changes, service, transfer
from app.codebook.forms import ActionForm, CodeForm, EditCodeForm, ImportForm, MergeForm, MoveForm
from app.codebook.models import ReasonCode
from app.db_types import utcnow
from app.downloads import csv_attachment
from app.errors import ValidationError
from app.extensions import db

bp = Blueprint("codebook", __name__, url_prefix="/codebook", template_folder="templates")
editors = roles_required(Role.ADMIN, Role.ANALYST)
PER_PAGE = 100


def _code_choices(blank: str | None = "(top level)", exclude: ReasonCode | None = None) -> list:
    choices = [SelectChoice("", blank)] if blank is not None else []
    for node in service.codebook_tree(include_retired=False):
        code = node.code
        if exclude is not None and (code.id == exclude.id or code.code.startswith(exclude.code + ".")):
            continue
        choices.append(SelectChoice(str(code.id), f"{'· ' * node.depth}{code.code} — {code.label}"))
    return choices


def _parent_choices(shown: list[ReasonCode], posted: str | None) -> list:
    """The active codes of the page on screen (and the one posted) as parents: a list that stays short
    however large the codebook is; a search brings any other code on screen. Retired codes take no child."""
    codes = list(shown)
    if posted and posted.isascii() and posted.isdigit() and (code := db.session.get(ReasonCode, int(posted))):
        codes.append(code)
    choices = [SelectChoice("", "(top level)")]
    for code in sorted({code for code in codes if code.active}, key=lambda c: c.code):
        choices.append(SelectChoice(str(code.id), f"{code.code} — {code.label}"))
    return choices


@bp.route("/", methods=["GET", "POST"])
@editors
def index():
    form = CodeForm()
    form.parent.choices = _parent_choices([], request.form.get("parent"))
    if form.validate_on_submit():
        parent = db.session.get(ReasonCode, int(form.parent.data)) if form.parent.data else None
        with domain_change() as change:
            code = service.create_code(
                form.part.data,
                form.label.data,
                parent=parent,
                definition=form.definition.data,
                example=form.example.data,
                polarity=form.polarity.data,
            )
        if change:
            flash(f"Code {code.code} added.", "success")
            return redirect(url_for("codebook.index"))
    return _index_page(form)


def _index_page(form: CodeForm, *, status: int = 200):
    search = request.args.get("q", "")
    page = db.paginate(service.codebook_query(search), per_page=PER_PAGE, error_out=False)
    form.parent.choices = _parent_choices(page.items, request.form.get("parent"))
    nodes = [service.CodeNode(code, service.code_depth(code)) for code in page.items]
    html = render_template(
        "codebook/index.html", page=page, nodes=nodes, search=search, form=form, import_form=ImportForm()
    )
    return html, status


@bp.route("/<int:code_id>", methods=["GET", "POST"])
@editors
def edit(code_id: int):
    code = db.get_or_404(ReasonCode, code_id)
    form = EditCodeForm(obj=code if not EditCodeForm().is_submitted() else None)
    if not form.is_submitted():
        form.polarity.data = code.polarity.value
    if form.validate_on_submit():
        with domain_change() as change:
            service.edit_code(
                code,
                label=form.label.data,
                definition=form.definition.data,
                example=form.example.data,
                polarity=form.polarity.data,
            )
        if change:
            flash(f"Code {code.code} saved.", "success")
            return redirect(url_for("codebook.edit", code_id=code.id))
    move_form = MoveForm(prefix="move")
    move_form.parent.choices = _code_choices(exclude=code)
    move_form.parent.data = str(code.parent_id or "")
    merge_form = MergeForm(prefix="merge")
    merge_form.into.choices = _code_choices(blank=None, exclude=code)
    return render_template(
        "codebook/edit.html",
        code=code,
        form=form,
        move_form=move_form,
        merge_form=merge_form,
        action_form=ActionForm(),
        undoable=changes.undoable_events(code, now=utcnow()),
    )


@bp.post("/<int:code_id>/move")
@editors
def move(code_id: int):
    code = db.get_or_404(ReasonCode, code_id)
    form = MoveForm(prefix="move")
    form.parent.choices = _code_choices(exclude=code)
    if form.validate_on_submit():
        parent = db.session.get(ReasonCode, int(form.parent.data)) if form.parent.data else None
        with domain_change() as change:
            service.move_code(code, parent)
        if change:
            flash(f"Moved: the code is now {code.code}.", "success")
    else:
        flash("Choose a parent from the list.", "error")
    return redirect(url_for("codebook.edit", code_id=code_id))


@bp.post("/<int:code_id>/merge")
@editors
def merge(code_id: int):
    """Show what the merge will change and ask; merge once confirmed (undoable for 24 hours)."""
    code = db.get_or_404(ReasonCode, code_id)
    form = MergeForm(prefix="merge")
    form.into.choices = _code_choices(blank=None, exclude=code)
    if not form.validate_on_submit():
        flash("Choose the code to merge into.", "error")
        return redirect(url_for("codebook.edit", code_id=code_id))
    survivor = db.get_or_404(ReasonCode, int(form.into.data))
    if not request.form.get("confirm"):
        with domain_change() as change:
            impact = changes.merge_preview(code, survivor)
        if not change:
            return redirect(url_for("codebook.edit", code_id=code_id))
        return render_template(
            "codebook/confirm.html", code=code, survivor=survivor, impact=impact, form=form, action="merge"
        )
    label = code.code
    with domain_change() as change:
        changes.merge_recorded(code, survivor, actor=current_user, now=utcnow())
    if change:
        flash(
            f"{label} merged into {survivor.code}: its codings and mappings moved there. "
            "You can undo it for 24 hours from the retired code's page.",
            "success",
        )
        return redirect(url_for("codebook.edit", code_id=survivor.id))
    return redirect(url_for("codebook.edit", code_id=code_id))


@bp.post("/<int:code_id>/retire")
@editors
def retire(code_id: int):
    """Retiring is asked first (with what it changes) and undoable; bringing a code back acts at once."""
    code = db.get_or_404(ReasonCode, code_id)
    form = ActionForm()
    if not form.validate_on_submit():
        return redirect(url_for("codebook.edit", code_id=code_id))
    if not code.active:
        with domain_change() as change:
            service.retire_code(code, active=True)
        if change:
            flash(f"{code.code} is active again.", "success")
    elif not request.form.get("confirm"):
        impact = changes.retire_preview(code)
        return render_template(
            "codebook/confirm.html", code=code, survivor=None, impact=impact, form=form, action="retire"
        )
    else:
        with domain_change() as change:
            changes.retire_recorded(code, actor=current_user, now=utcnow())
        if change:
            flash(f"{code.code} retired; its history stays. You can undo it for 24 hours.", "success")
    return redirect(url_for("codebook.edit", code_id=code_id))


@bp.post("/<int:code_id>/undo/<int:event_id>")
@editors
def undo(code_id: int, event_id: int):
    """Undo a merge or retirement of this code (within 24 hours), from its audit event."""
    event = db.get_or_404(AuditEvent, event_id)
    if event.entity_type != "reason_code" or event.entity_id != code_id:
        abort(404)
    if ActionForm().validate_on_submit():
        with domain_change() as change:
            code = changes.undo(event, actor=current_user, now=utcnow())
        if change:
            flash(f"Undone: {code.code} is back as it was.", "success")
    return redirect(url_for("codebook.edit", code_id=code_id))


@bp.get("/export.csv")
@editors
def export():
    out = io.StringIO()
    transfer.export_codebook_csv(out)
    return csv_attachment("codebook.csv", out.getvalue())


@bp.post("/import")
@editors
def import_csv():
    form = ImportForm()
    if not form.validate_on_submit():
        flash("Choose a CSV file to import.", "error")
        return redirect(url_for("codebook.index"))
    try:
        text = transfer.codebook_text(form.file.data.read(transfer.MAX_CODEBOOK_BYTES + 1))
    except ValidationError as error:
        flash(error.message, "error")
        return _index_page(_add_form(), status=422)
    result = transfer.import_codebook_csv(io.StringIO(text, newline=""))
    if result.errors:
        db.session.rollback()
        for line, message in result.errors[:20]:
            flash(f"Line {line}: {message}", "error")
        flash("Nothing was imported: fix these rows and upload the file again.", "error")
        return _index_page(_add_form(), status=422)
    db.session.commit()
    flash(f"Codebook imported: {result.created} added, {result.updated} updated.", "success")
    return redirect(url_for("codebook.index"))


def _add_form() -> CodeForm:
    return CodeForm(formdata=None)  # the index page lists its parent choices
