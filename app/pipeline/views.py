"""The sales manager's pages: the review queue, a requalification, decisions, the export, recycled deals."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select
from wtforms import SelectChoice

from app.api.guard import api_token_required
from app.api.models import Scope
from app.audit.models import AuditEvent
from app.auth.guard import roles_required
from app.auth.models import Role, User
from app.changes import Change, domain_change
from app.coding.service import opportunity_reasons
from app.crm.models import Opportunity
from app.db_types import utcnow
from app.downloads import csv_attachment
from app.errorhandlers import wants_json
from app.errors import ValidationError
from app.extensions import csrf, db, limiter
from app.money.service import reporting_currency
from app.pipeline import service
from app.pipeline.forms import (
    AcceptForm,
    BulkForm,
    DeferForm,
    FirstTouchForm,
    RejectForm,
    RuleForm,
    SettingsForm,
)
from app.pipeline.models import REJECT_REASONS, AlreadyDecided, Requalification
from app.pipeline.queue import (
    QueueFilters,
    call_history,
    filter_choices,
    is_overdue,
    outside_team,
    owners,
    queue_query,
    responses_of,
    team_of,
)
from app.pipeline.recycling import (
    FORMATS,
    export_csv,
    recovered_by,
    rejections_by_reason,
    requalification_amount,
    set_crm_opportunity_id,
)
from app.security import json_body
from app.validation import parse_ids

bp = Blueprint("pipeline", __name__, url_prefix="/pipeline", template_folder="templates")
api_bp = Blueprint("pipeline_api", __name__, url_prefix="/api/v1")
csrf.exempt(api_bp)  # token-authenticated, never cookie-authenticated
limiter.limit(lambda: current_app.config["API_RATE_LIMIT"])(api_bp)  # as the push API

reviewers = roles_required(Role.SALES_MANAGER, Role.ADMIN)
PAGE_SIZE = 50


def _owner_choices() -> list[SelectChoice]:
    return [SelectChoice("", "Choose an owner"), *(SelectChoice(name, name) for name in owners())]


@bp.get("/review")
@reviewers
def queue():
    now = utcnow()
    service.return_deferred(now)  # deferrals whose day has come are back in the queue
    db.session.commit()
    filters = QueueFilters.from_args(request.args)
    for message in filters.errors:
        flash(message, "error")
    page = db.paginate(
        queue_query(filters, manager=current_user, now=now), per_page=PAGE_SIZE, error_out=False
    )
    bulk = BulkForm()
    bulk.owner.choices = _owner_choices()
    return render_template(
        "pipeline/queue.html",
        page=page,
        filters=filters,
        choices=filter_choices(),
        team=team_of(current_user),
        bulk=bulk,
        now=now,
        is_overdue=is_overdue,
    )


def _detail(requalification: Requalification, **forms):
    accept_form = forms.get("accept_form") or AcceptForm(formdata=None)
    accept_form.owner.choices = _owner_choices()
    if not accept_form.owner.data and requalification.opportunity is not None:
        accept_form.owner.data = requalification.opportunity.owner
    opportunity = requalification.opportunity
    history = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity_type == service.ENTITY, AuditEvent.entity_id == requalification.id)
        .order_by(AuditEvent.at, AuditEvent.id)
    ).all()
    return render_template(
        "pipeline/detail.html",
        requalification=requalification,
        opportunity=opportunity,
        deal_currency=requalification_amount(requalification, None)[1],
        reasons=opportunity_reasons(opportunity.id) if opportunity else [],
        responses=responses_of(requalification),
        calls=call_history(requalification),
        history=history,
        accept_form=accept_form,
        reject_form=forms.get("reject_form") or RejectForm(formdata=None),
        defer_form=forms.get("defer_form") or DeferForm(formdata=None),
        first_touch_form=FirstTouchForm(formdata=None),
        reject_reasons=REJECT_REASONS,
        now=utcnow(),
        is_overdue=is_overdue,
        outside_team=outside_team(requalification, current_user),
    )


def _deciding():
    """domain_change for a decision: a JSON client gets its refusal in the answer, not as a flash."""
    return domain_change(flash_error=not wants_json())


def _refused(requalification: Requalification, change: Change, **forms):
    """A decision that did not go through: 409 when another manager decided first (the JSON error for a
    JSON client, the page with the flash saying who for a person), else the form again with its errors."""
    error = change.error
    if isinstance(error, AlreadyDecided):
        if wants_json():
            return jsonify(error.to_json()), error.status
        return _detail(requalification, **forms), error.status
    return _detail(requalification, **forms), 422


@bp.get("/requalifications/<int:requalification_id>")
@reviewers
def detail(requalification_id: int):
    return _detail(db.get_or_404(Requalification, requalification_id))


@bp.post("/requalifications/<int:requalification_id>/accept")
@reviewers
def accept(requalification_id: int):
    requalification = db.get_or_404(Requalification, requalification_id)
    form = AcceptForm()
    form.owner.choices = _owner_choices()
    if not form.validate():
        return _detail(requalification, accept_form=form), 422
    with _deciding() as change:
        service.accept(
            requalification,
            reviewer=current_user,
            owner=form.owner.data,
            expected_amount=form.expected_amount.data,
            next_step=form.next_step.data or "",
            next_step_date=form.next_step_date.data,
            now=utcnow(),
        )
    if change:
        flash(f"{requalification.winback_id} accepted for {requalification.owner}.", "success")
        return redirect(url_for("pipeline.queue"))
    return _refused(requalification, change, accept_form=form)


@bp.post("/requalifications/<int:requalification_id>/reject")
@reviewers
def reject(requalification_id: int):
    requalification = db.get_or_404(Requalification, requalification_id)
    form = RejectForm()
    if not form.validate():
        return _detail(requalification, reject_form=form), 422
    with _deciding() as change:
        service.reject(
            requalification,
            reviewer=current_user,
            reason=form.reason.data,
            text=form.text.data or "",
            now=utcnow(),
        )
    if change:
        flash(f"{requalification.winback_id} rejected.", "success")
        return redirect(url_for("pipeline.queue"))
    return _refused(requalification, change, reject_form=form)


@bp.post("/requalifications/<int:requalification_id>/defer")
@reviewers
def defer(requalification_id: int):
    requalification = db.get_or_404(Requalification, requalification_id)
    form = DeferForm()
    if not form.validate():
        return _detail(requalification, defer_form=form), 422
    with _deciding() as change:
        service.defer(requalification, reviewer=current_user, until=form.until.data, now=utcnow())
    if change:
        flash(f"{requalification.winback_id} deferred until {form.until.data.isoformat()}.", "success")
        return redirect(url_for("pipeline.queue"))
    return _refused(requalification, change, defer_form=form)


@bp.post("/requalifications/<int:requalification_id>/first-touch")
@reviewers
def first_touch(requalification_id: int):
    requalification = db.get_or_404(Requalification, requalification_id)
    if FirstTouchForm().validate():
        with domain_change() as change:
            service.record_first_touch(requalification, by=current_user, now=utcnow())
        if change:
            flash(f"First touch on {requalification.winback_id} recorded.", "success")
            return redirect(url_for("pipeline.detail", requalification_id=requalification.id))
    return _detail(requalification), 422


@bp.post("/review/bulk")
@reviewers
def bulk():
    form = BulkForm()
    form.owner.choices = _owner_choices()
    ids = parse_ids(request.form.getlist("ids"))
    if not form.validate():
        for name, errors in form.errors.items():
            flash(f"{getattr(form, name).label.text}: {' '.join(errors)}", "error")
        return redirect(url_for("pipeline.queue"))
    values = {
        "accept": {
            "owner": form.owner.data or "",
            "expected_amount": None,
            "next_step": "",
            "next_step_date": None,
        },
        "reject": {"reason": form.reason.data or "", "text": form.text.data or ""},
        "defer": {"until": form.until.data},
    }[form.action.data]
    with domain_change() as change:
        result = service.bulk_decide(ids, form.action.data, reviewer=current_user, now=utcnow(), **values)
    if change:
        if result.done:
            flash(f"{len(result.done)} requalifications: {form.action.data} done.", "success")
        for requalification_id, message in result.failed:
            flash(f"WB-{requalification_id}: {message}", "error")
    return redirect(url_for("pipeline.queue"))


@bp.post("/export")
@reviewers
def export():
    export_format = request.form.get("format", "")
    if export_format not in FORMATS:
        flash("Choose Salesforce or HubSpot.", "error")
        return redirect(url_for("pipeline.recycled"))
    text, _count = export_csv(export_format, now=utcnow(), include_all=request.form.get("which") == "all")
    db.session.commit()
    name = f"winback-{export_format}-{utcnow():%Y%m%d}.csv"
    return csv_attachment(name, text)


@bp.get("/recycled")
@reviewers
def recycled():
    rows = [
        (r, recycled, *requalification_amount(r, recycled))
        for r, recycled in db.session.execute(
            select(Requalification, Opportunity)
            .outerjoin(Opportunity, Opportunity.id == Requalification.recycled_opportunity_id)
            .where(Requalification.status == "accepted")
            .order_by(Requalification.decided_at.desc(), Requalification.id.desc())
        )
    ]
    return render_template(
        "pipeline/recycled.html",
        rows=rows,
        formats=FORMATS,
        now=utcnow(),
        by_campaign=recovered_by("campaign"),
        by_owner=recovered_by("owner"),
        reporting_currency=reporting_currency(),
    )


@api_bp.patch("/requalifications/<int:requalification_id>")
@api_token_required(scope=Scope.REQUALIFICATIONS)
def patch_requalification(requalification_id: int):
    requalification = db.session.get(Requalification, requalification_id)
    if requalification is None:
        from app.errors import NotFound

        raise NotFound(f"No requalification {requalification_id}.")
    body = json_body()
    if not isinstance(body, dict) or "crm_opportunity_id" not in body:
        raise ValidationError(
            "The body must be a JSON object with crm_opportunity_id.", field="crm_opportunity_id"
        )
    value = body["crm_opportunity_id"]
    if not isinstance(value, str):
        raise ValidationError("crm_opportunity_id must be a string.", field="crm_opportunity_id")
    now = utcnow()
    set_crm_opportunity_id(requalification, value, actor_label=f"api:{g.api_token.name}", now=now)
    g.api_token.last_used_at = now
    db.session.commit()
    return jsonify(
        {
            "id": requalification.id,
            "winback_id": requalification.winback_id,
            "status": requalification.status.value,
            "crm_opportunity_id": requalification.crm_opportunity_id,
            "recycled_opportunity_id": requalification.recycled_opportunity_id,
        }
    )


admins = roles_required(Role.ADMIN)


@bp.get("/sla")
@reviewers
def sla():
    from app.pipeline.digest import digest_for, sla_compliance

    now = utcnow()
    managers = db.session.scalars(
        select(User).where(User.role == Role.SALES_MANAGER, User.active.is_(True)).order_by(User.name)
    ).all()
    current = [(manager, digest_for(manager, now=now)) for manager in managers]
    return render_template(
        "pipeline/sla.html", rows=sla_compliance(), current=current, settings=service.pipeline_settings()
    )


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
