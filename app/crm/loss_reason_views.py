"""The loss-reason page: map each loss reason the CRM sends to a reason code of the codebook.

The mapping is CRM vocabulary (app/crm/loss_reasons.py); the page keeps its address under /imports
(an address is a contract) and is linked from the imports' menu.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from app.auth.guard import roles_required
from app.auth.models import Role
from app.changes import domain_change
from app.codebook.models import ReasonCode
from app.crm import loss_reasons as loss_reason_mapping
from app.crm.forms import ActionForm
from app.extensions import db

bp = Blueprint("loss_reasons", __name__, url_prefix="/imports")


@bp.route("/loss-reasons", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def loss_reasons():
    form = ActionForm()
    if form.validate_on_submit():
        choices = {}
        for key, value in request.form.items():
            if key.startswith("reason_"):
                choices[int(key.removeprefix("reason_"))] = int(value) if value else None
        with domain_change() as change:
            changed = loss_reason_mapping.map_loss_reasons(choices)
        if change:
            flash(f"{changed} loss reason(s) mapped.", "success")
            return redirect(url_for("loss_reasons.loss_reasons"))
    codes = db.session.scalars(select(ReasonCode).where(ReasonCode.active).order_by(ReasonCode.code)).all()
    return render_template(
        "crm/loss_reasons.html", form=form, rows=loss_reason_mapping.loss_reason_rows(), codes=codes
    )
