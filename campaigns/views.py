"""Campaign pages: list, detail, create and edit with a live preview, status changes, enroll now."""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from app.auth.guard import roles_required
from app.auth.models import Role
from app.changes import domain_change
from app.db_types import utcnow
from app.extensions import db
from app.organisation.service import brand
from campaigns.enrollment import (
    activation_forecast,
    approve_pending,
    enroll_campaign,
    enrollment_counts,
    pending_count,
    preview_rules,
)
from campaigns.forms import CampaignForm, StatusForm
from campaigns.invitations import campaign_from
from campaigns.languages import language_coverage
from campaigns.models import (
    SUPPRESSION_LABELS,
    Campaign,
    CampaignStatus,
    EnrollmentStatus,
    EnrollmentSuppression,
)
from campaigns.service import (
    ActivationBlocked,
    activation_blockers,
    campaigns_for,
    change_status,
    competitor_names,
    may_see,
    preview_contact,
    render_templates,
    save_campaign,
)
from campaigns.targeting import TargetingRules
from campaigns.wording import default_wording

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns", template_folder="templates")

admin_only = roles_required(Role.ADMIN)
REASON_LABELS = {reason.value: label for reason, label in SUPPRESSION_LABELS.items()}


@bp.app_context_processor
def _labels():
    return {"suppression_labels": REASON_LABELS, "enrollment_statuses": [s.value for s in EnrollmentStatus]}


@bp.get("")
@roles_required(Role.ADMIN, Role.CALLER)
def index():
    campaigns = campaigns_for(current_user)
    counts = {campaign.id: enrollment_counts(campaign.id)[0] for campaign in campaigns}
    return render_template("campaigns/index.html", campaigns=campaigns, counts=counts)


@bp.get("/<int:campaign_id>")
@roles_required(Role.ADMIN, Role.CALLER)
def detail(campaign_id: int):
    campaign = db.get_or_404(Campaign, campaign_id)
    if not may_see(current_user, campaign):
        abort(404)
    by_status, by_reason = enrollment_counts(campaign.id)
    return render_template(
        "campaigns/detail.html",
        campaign=campaign,
        by_status=by_status,
        by_reason=by_reason,
        pending=pending_count(campaign.id),
        from_header=campaign_from(campaign),
        competitors=competitor_names(campaign),
        form=StatusForm(),
        confirmed_actions=CONFIRMED_ACTIONS,
    )


def _render_edit(form: CampaignForm, campaign: Campaign | None, rules: TargetingRules, status: int = 200):
    now = utcnow()
    preview = preview_rules(rules, now=now)
    contact = preview_contact(
        rules, now=now, contact_id=request.args.get("contact", type=int), preview=preview
    )
    values = form.preview_values()
    rendered = render_templates(values, contact, sender=form.from_name.data or "") if contact else []
    return (
        render_template(
            "campaigns/edit.html",
            form=form,
            campaign=campaign,
            preview=preview,
            contact=contact,
            rendered=rendered,
        ),
        status,
    )


@bp.route("/new", methods=["GET", "POST"])
@admin_only
def new():
    form = CampaignForm()
    if not form.is_submitted():
        form.fill_defaults(default_wording(), sender=brand().name)
    elif request.form.get("preview_only"):
        form.validate()
        return _render_edit(form, None, form.rules())
    if form.validate_on_submit():
        with domain_change() as change:
            campaign = save_campaign(Campaign(), form.values(), caller_ids=form.callers.data or [])
        if change:
            flash(f"Campaign {campaign.name} created as a draft.", "success")
            return redirect(url_for("campaigns.detail", campaign_id=campaign.id))
    return _render_edit(form, None, form.rules(), 422 if form.is_submitted() else 200)


@bp.route("/<int:campaign_id>/edit", methods=["GET", "POST"])
@admin_only
def edit(campaign_id: int):
    campaign = db.get_or_404(Campaign, campaign_id)
    if campaign.status is CampaignStatus.FINISHED:
        flash("A finished campaign cannot be edited.", "error")
        return redirect(url_for("campaigns.detail", campaign_id=campaign.id))
    form = CampaignForm()
    if not form.is_submitted():
        form.fill_from(campaign)
        return _render_edit(form, campaign, TargetingRules.of(campaign))
    if request.form.get("preview_only"):
        form.validate()
        return _render_edit(form, campaign, form.rules())
    if form.validate():
        with domain_change() as change:
            save_campaign(campaign, form.values(), caller_ids=form.callers.data or [])
        if change:
            flash("Campaign saved.", "success")
            return redirect(url_for("campaigns.detail", campaign_id=campaign.id))
    return _render_edit(form, campaign, form.rules(), 422)


@bp.post("/preview")
@admin_only
def preview():
    """The live preview the edit form calls as the admin types: counts for the rules as they stand."""
    form = CampaignForm()
    form.validate()
    rules = form.rules()
    now = utcnow()
    counts = preview_rules(rules, now=now)
    result = counts.to_json()
    contact = preview_contact(rules, now=now, preview=counts)
    sender = form.from_name.data or ""
    rendered = render_templates(form.preview_values(), contact, sender=sender) if contact else []
    result["contact"] = {"id": contact.id, "name": contact.full_name} if contact else None
    result["templates"] = [
        {"name": r.name, "label": r.label, "text": r.text, "error": r.error} for r in rendered
    ]
    result["errors"] = {name: errors for name, errors in form.errors.items() if name != "csrf_token"}
    result["reason_labels"] = {reason.value: reason.label for reason in EnrollmentSuppression}
    result["messages_html"] = render_template("campaigns/_messages.html", contact=contact, rendered=rendered)
    return jsonify(result)


# Moves that reach people or cannot be undone ask first, on a page of their own (works without JS).
CONFIRMED_ACTIONS = ("activate", "resume", "finish")
ACTION_PAST = {"activate": "activated", "resume": "resumed", "finish": "finished"}


@bp.route("/<int:campaign_id>/status", methods=["GET", "POST"])
@admin_only
def status(campaign_id: int):
    """GET: the confirmation page of an action; POST: apply it (activate, resume, finish once confirmed)."""
    campaign = db.get_or_404(Campaign, campaign_id)
    action = request.values.get("action", "")
    if request.method == "POST":
        if not StatusForm().validate_on_submit():
            abort(400)
        if action not in CONFIRMED_ACTIONS or request.form.get("confirmed") == "yes":
            with domain_change(flash_error=False) as change:
                change_status(campaign, action, now=utcnow())
            if change:
                flash(f"Campaign {campaign.name} is now {campaign.status.value}.", "success")
            elif isinstance(change.error, ActivationBlocked):  # the page names what is missing, with a link
                return _confirm_page(campaign, action, 422)
            else:
                flash(change.error.message, "error")
            return redirect(url_for("campaigns.detail", campaign_id=campaign_id))
    if action not in CONFIRMED_ACTIONS:
        abort(404)
    if action not in campaign.allowed_actions():
        flash(f"A {campaign.status.value} campaign cannot be {ACTION_PAST[action]}.", "error")
        return redirect(url_for("campaigns.detail", campaign_id=campaign_id))
    return _confirm_page(campaign, action)


def _confirm_page(campaign: Campaign, action: str, status: int = 200):
    blockers = activation_blockers(campaign) if action != "finish" else []
    forecast = activation_forecast(campaign, now=utcnow()) if action != "finish" and not blockers else None
    languages = language_coverage(campaign, now=utcnow()) if action != "finish" else None
    page = render_template(
        "campaigns/confirm.html",
        campaign=campaign,
        action=action,
        forecast=forecast,
        blockers=blockers,
        languages=languages,
        form=StatusForm(),
    )
    return page, status


@bp.post("/<int:campaign_id>/approve")
@admin_only
def approve(campaign_id: int):
    """Approve, in one click, every new match waiting in a campaign that asks for approval."""
    campaign = db.get_or_404(Campaign, campaign_id)
    if not StatusForm().validate_on_submit():
        abort(400)
    up_to = request.form.get("up_to", type=int)
    with domain_change() as change:
        result = approve_pending(campaign, now=utcnow(), up_to_id=up_to)
    if change:
        flash(f"{result.approved} approved; {result.invited} invitations queued.", "success")
    return redirect(url_for("campaigns.detail", campaign_id=campaign_id))


@bp.post("/<int:campaign_id>/enroll")
@admin_only
def enroll(campaign_id: int):
    campaign = db.get_or_404(Campaign, campaign_id)
    if not StatusForm().validate_on_submit():
        abort(400)
    with domain_change() as change:
        result = enroll_campaign(campaign, now=utcnow())
    if change:
        suppressed = result.by_status.get(EnrollmentStatus.SUPPRESSED.value, 0)
        waiting = result.by_status.get(EnrollmentStatus.PENDING.value, 0)
        note = f", {waiting} waiting for your approval" if waiting else ""
        flash(f"{result.created} new enrollments ({suppressed} suppressed{note}).", "success")
    return redirect(url_for("campaigns.detail", campaign_id=campaign_id))
