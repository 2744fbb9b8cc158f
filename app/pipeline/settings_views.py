"""The pipeline's admin pages: the service levels and teams, and each campaign's requalification rule."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.auth.models import Role, User
from app.changes import domain_change
from app.db_types import utcnow
from app.extensions import db
from app.pipeline import service
from app.pipeline.forms import RuleForm, SettingsForm
from app.pipeline.models import REJECT_REASONS
from app.pipeline.queue import team_of
from app.pipeline.recycling import rejections_by_reason
from app.pipeline.views import admins, bp


@bp.route("/settings", methods=["GET", "POST"])
@admins
def settings():
    from app.pipeline.admin import save_settings, save_team

    current = service.pipeline_settings()
    form = SettingsForm(obj=current)
    if request.method == "GET":
        form.extra_holidays.data = "\n".join(current.extra_holidays or [])
    managers = db.session.scalars(
        select(User).where(User.role == Role.SALES_MANAGER).order_by(User.name)
    ).all()
    if request.method == "POST" and form.validate():
        now = utcnow()
        with domain_change() as change:
            save_settings(current, form.data, actor=current_user, now=now)
            for manager in managers:
                save_team(
                    manager,
                    owners=request.form.get(f"owners-{manager.id}", ""),
                    regions=request.form.get(f"regions-{manager.id}", ""),
                    actor=current_user,
                    now=now,
                )
        if change:
            flash("Pipeline settings saved.", "success")
            return redirect(url_for("pipeline.settings"))
    db.session.commit()  # the settings row, created with its defaults on first sight
    from campaigns.models import Campaign

    teams = {manager.id: team_of(manager) for manager in managers}
    from app.messaging.models import OutboundMessage
    from app.pipeline.webhook import TEMPLATE

    campaigns = db.session.scalars(select(Campaign).order_by(Campaign.name)).all()
    deliveries = db.session.scalars(
        select(OutboundMessage)
        .where(OutboundMessage.template == TEMPLATE)
        .order_by(OutboundMessage.id.desc())
        .limit(20)
    ).all()
    status = 422 if form.errors else 200
    page = render_template(
        "pipeline/settings.html",
        form=form,
        managers=managers,
        teams=teams,
        campaigns=campaigns,
        deliveries=deliveries,
    )
    return page, status


@bp.route("/rules/<int:campaign_id>", methods=["GET", "POST"])
@admins
def rule(campaign_id: int):
    from app.pipeline.admin import RULE_FIELDS, preview_rule, rule_of, save_rule
    from campaigns.models import Campaign

    campaign = db.get_or_404(Campaign, campaign_id)
    current = rule_of(campaign.id)
    form = RuleForm(obj=current)
    if request.method == "POST" and form.validate():
        if request.form.get("preview"):
            candidate = rule_of(campaign.id)
            for name in RULE_FIELDS:
                setattr(candidate, name, getattr(form, name).data)
            with db.session.no_autoflush:
                qualifying, total = preview_rule(campaign.id, candidate, today=utcnow().date())
            db.session.rollback()
            return render_template(
                "pipeline/rule.html",
                form=form,
                campaign=campaign,
                preview=(qualifying, total),
                rejections=rejections_by_reason(campaign.id),
                reject_reasons=REJECT_REASONS,
            )
        with domain_change() as change:
            save_rule(
                campaign.id, {n: getattr(form, n).data for n in RULE_FIELDS}, actor=current_user, now=utcnow()
            )
        if change:
            flash(f"Requalification rule of {campaign.name} saved.", "success")
            return redirect(url_for("pipeline.rule", campaign_id=campaign.id))
    status = 422 if form.errors else 200
    page = render_template(
        "pipeline/rule.html",
        form=form,
        campaign=campaign,
        preview=None,
        rejections=rejections_by_reason(campaign.id),
        reject_reasons=REJECT_REASONS,
    )
    return page, status
