"""The competitor pages: the competitor list, its aliases (CRM spellings), renames and merges.

Competitors are CRM vocabulary (app/crm/competitors.py); the pages keep their address under /imports,
where admins met them first (an address is a contract), and are linked from the imports' menu.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from wtforms import SelectChoice

from app.auth.guard import roles_required
from app.auth.models import Role
from app.changes import domain_change
from app.crm import competitors as competitor_admin
from app.crm.forms import ActionForm, AliasForm, CompetitorForm, MergeForm
from app.crm.models import Competitor
from app.extensions import db

bp = Blueprint("competitors", __name__, url_prefix="/imports/competitors")
admin_only = roles_required(Role.ADMIN)


def _competitor_choices() -> list[SelectChoice]:
    return [
        SelectChoice(c.id, c.name) for c in db.session.scalars(select(Competitor).order_by(Competitor.name))
    ]


def _competitors_page(**forms):
    choices = _competitor_choices()
    alias_form = forms.get("alias_form") or AliasForm(formdata=None)
    merge_form = forms.get("merge_form") or MergeForm(formdata=None)
    alias_form.competitor.choices = merge_form.source.choices = merge_form.survivor.choices = choices
    return render_template(
        "crm/competitors.html",
        form=alias_form,
        add_form=forms.get("add_form") or CompetitorForm(formdata=None),
        merge_form=merge_form,
        action_form=ActionForm(formdata=None),
        rows=competitor_admin.competitor_rows(),
        suggestions=competitor_admin.merge_suggestions(),
    )


@bp.route("", methods=["GET", "POST"])
@admin_only
def competitors():
    form = AliasForm()
    form.competitor.choices = _competitor_choices()
    if form.validate_on_submit():
        with domain_change() as change:
            competitor_admin.add_alias(form.alias.data, form.competitor.data)
        if change:
            flash(f"'{form.alias.data.strip()}' now means that competitor.", "success")
            return redirect(url_for("competitors.competitors"))
    return _competitors_page(alias_form=form if request.method == "POST" else None)


@bp.post("/add")
@admin_only
def add_competitor():
    form = CompetitorForm()
    if form.validate_on_submit():
        with domain_change() as change:
            competitor = competitor_admin.add_competitor(form.name.data)
        if change:
            flash(f"Competitor '{competitor.name}' added.", "success")
            return redirect(url_for("competitors.competitors"))
    return _competitors_page(add_form=form), 422


@bp.post("/<int:competitor_id>/rename")
@admin_only
def rename_competitor(competitor_id: int):
    db.get_or_404(Competitor, competitor_id)
    form = CompetitorForm()
    if form.validate_on_submit():
        with domain_change() as change:
            competitor = competitor_admin.rename_competitor(competitor_id, form.name.data)
        if change:
            flash(f"Renamed to '{competitor.name}'; the old name stays an alias.", "success")
    else:
        flash("Give the competitor a name of at most 120 characters.", "error")
    return redirect(url_for("competitors.competitors"))


@bp.post("/merge")
@admin_only
def merge_competitors():
    form = MergeForm()
    form.source.choices = form.survivor.choices = _competitor_choices()
    if form.validate_on_submit():
        with domain_change() as change:
            survivor = competitor_admin.merge_competitors(form.source.data, form.survivor.data)
        if change:
            flash(f"Merged into '{survivor.name}': its deals and aliases moved.", "success")
            return redirect(url_for("competitors.competitors"))
    return _competitors_page(merge_form=form), 422


@bp.post("/suggestions/<int:suggestion_id>")
@admin_only
def merge_suggestion(suggestion_id: int):
    form = ActionForm()
    if form.validate_on_submit():
        accept = request.form.get("action") == "accept"
        with domain_change() as change:
            survivor = competitor_admin.accept_suggestion(suggestion_id) if accept else None
            if not accept:
                competitor_admin.dismiss_suggestion(suggestion_id)
        if change:
            flash(
                f"Merged into '{survivor.name}'."
                if survivor
                else "Kept apart: they are different competitors.",
                "success",
            )
    return redirect(url_for("competitors.competitors"))
