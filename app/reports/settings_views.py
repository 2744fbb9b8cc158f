"""The funnel targets and assumed rates page (admins), on the reports blueprint."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from app.auth.guard import roles_required
from app.auth.models import Role
from app.changes import domain_change
from app.db_types import utcnow
from app.money.service import reporting_currency
from app.reports.forms import TargetsForm
from app.reports.routes import Routes
from app.reports.targets import funnel_targets, set_funnel_targets, target_status

routes = Routes()  # added to the reports blueprint by app.reports


def _form_data() -> dict:
    targets = funnel_targets()
    if targets is None:
        return {}
    return {
        "requalified": targets.requalified_per_month,
        "accepted": targets.accepted_per_month,
        "recovered_revenue": targets.recovered_revenue_per_month,
        "response_rate": Decimal(targets.response_rate) * 100,
        "acceptance_rate": Decimal(targets.acceptance_rate) * 100,
        "win_rate": Decimal(targets.win_rate) * 100,
    }


def _render(form: TargetsForm, status: int = 200):
    return render_template(
        "reports/targets.html",
        form=form,
        currency=reporting_currency(),
        status=target_status(date.today()),
    ), status


@routes.get("/settings/targets")
@roles_required(Role.ADMIN)
def targets_settings():
    return _render(TargetsForm(data=_form_data()))


@routes.post("/settings/targets")
@roles_required(Role.ADMIN)
def save_targets():
    form = TargetsForm()
    if form.validate_on_submit():
        with domain_change() as change:
            set_funnel_targets(
                requalified=form.requalified.data,
                accepted=form.accepted.data,
                recovered_revenue=form.recovered_revenue.data,
                response_rate=form.response_rate.data,
                acceptance_rate=form.acceptance_rate.data,
                win_rate=form.win_rate.data,
                by=current_user,
                now=utcnow(),
            )
        if change:
            flash("Targets saved: the dashboard shows this month's pace against them.", "success")
            return redirect(url_for("reports.targets_settings"))
    return _render(form, status=400)
