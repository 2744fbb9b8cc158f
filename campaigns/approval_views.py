"""The approval page: the people waiting in a campaign, by name, approved or left out with a reason."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.auth.guard import roles_required
from app.auth.models import Role
from app.changes import domain_change
from app.db_types import utcnow
from app.extensions import db
from campaigns.approval import REASON_MAX, decide_waiting, left_out, pending_among, waiting_page
from campaigns.forms import StatusForm
from campaigns.models import Campaign
from campaigns.views import bp


@bp.get("/<int:campaign_id>/approval")
@roles_required(Role.ADMIN)
def approval(campaign_id: int):
    """Who waits for approval, a page at a time; every row is selected unless the admin asked for none."""
    campaign = db.get_or_404(Campaign, campaign_id)
    page = waiting_page(campaign, page=request.args.get("page", 1, type=int) or 1)
    return render_template(
        "campaigns/approval.html",
        campaign=campaign,
        page=page,
        select_none=request.args.get("select") == "none",
        left_out=left_out(campaign),
        reason_max=REASON_MAX,
        form=StatusForm(),
    )


def _ids(name: str) -> set[int]:
    return {value for value in request.form.getlist(name, type=int) if value > 0}


@bp.post("/<int:campaign_id>/approval")
@roles_required(Role.ADMIN)
def decide(campaign_id: int):
    """First the count and the names left out, to confirm; once confirmed, approve and exclude."""
    campaign = db.get_or_404(Campaign, campaign_id)
    if not StatusForm().validate_on_submit():
        abort(400)
    shown = _ids("shown")
    approve = _ids("approve") & shown
    exclude = shown - approve
    reason = request.form.get("reason", "")
    if request.form.get("confirmed") != "yes":
        return render_template(
            "campaigns/approval_confirm.html",
            campaign=campaign,
            contacted=pending_among(campaign.id, approve),
            left_out=pending_among(campaign.id, exclude),
            reason=reason,
            page_number=request.form.get("page", 1, type=int),
            form=StatusForm(),
        )
    with domain_change() as change:
        result = decide_waiting(
            campaign,
            approve_ids=approve,
            exclude_ids=exclude,
            reason=reason,
            actor=current_user,
            now=utcnow(),
        )
    if change:
        flash(
            f"{result.approved} approved, {result.invited} contacted; {result.excluded} left out.", "success"
        )
    return redirect(url_for("campaigns.approval", campaign_id=campaign.id))
