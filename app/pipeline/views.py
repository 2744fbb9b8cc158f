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
from app.pipeline.bulk import PAST, bulk_decide, bulk_message
from app.pipeline.forms import (
    AcceptForm,
    AssignForm,
    BulkForm,
    DeferForm,
    FirstTouchForm,
    RejectForm,
    TakeForm,
)
from app.pipeline.models import REJECT_REASONS, AlreadyDecided, Requalification
from app.pipeline.people import default_owner, mentions, owner_choices, voices
from app.pipeline.queue import (
    QueueFilters,
    call_history,
    filter_choices,
    is_overdue,
    outside_team,
    owners,
    queue_query,
    team_of,
)
from app.pipeline.recycling import (
    FORMATS,
    export_csv,
    recovered_by,
    requalification_amount,
    set_crm_opportunity_id,
)
from app.pipeline.rows import queue_rows
from app.pipeline.unassigned import assign as assign_to
from app.pipeline.unassigned import unassigned_count, unassigned_query
from app.security import json_body
from app.validation import parse_ids

bp = Blueprint("pipeline", __name__, url_prefix="/pipeline", template_folder="templates")
api_bp = Blueprint("pipeline_api", __name__, url_prefix="/api/v1")
csrf.exempt(api_bp)  # token-authenticated, never cookie-authenticated
limiter.limit(lambda: current_app.config["API_RATE_LIMIT"])(api_bp)  # as the push API

reviewers = roles_required(Role.SALES_MANAGER, Role.ADMIN)
PAGE_SIZE = 50


def _named(requalification: Requalification) -> str:
    return f"{requalification.winback_id} ({requalification.account.name})"


def _owner_choices() -> list[SelectChoice]:
    names = owner_choices(owners())
    return [SelectChoice("", "Choose an owner"), *(SelectChoice(name, name) for name in names)]


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
    bulk.owner.choices = [SelectChoice("", "Keep each deal's own owner"), *_owner_choices()[1:]]
    nobody = unassigned_query()
    unassigned_rows = None
    if nobody is not None:
        unassigned_rows = queue_rows(list(db.session.scalars(nobody.limit(PAGE_SIZE))), now=now)
    return render_template(
        "pipeline/queue.html",
        page=page,
        rows=queue_rows(list(page.items), now=now),
        unassigned_rows=unassigned_rows,
        unassigned_total=unassigned_count() if nobody is not None else 0,
        take=TakeForm() if current_user.role is Role.SALES_MANAGER else None,
        assign=_assign_form() if current_user.role is Role.ADMIN else None,
        filters=filters,
        choices=filter_choices(),
        team=team_of(current_user),
        bulk=bulk,
    )


def _assign_form() -> AssignForm:
    form = AssignForm()
    managers = db.session.scalars(
        select(User).where(User.role == Role.SALES_MANAGER, User.active.is_(True)).order_by(User.name)
    )
    form.manager_id.choices = [
        SelectChoice("", "Choose a manager"),
        *(SelectChoice(str(m.id), m.name) for m in managers),
    ]
    return form


@bp.post("/requalifications/<int:requalification_id>/take")
@roles_required(Role.SALES_MANAGER)
def take(requalification_id: int):
    requalification = db.get_or_404(Requalification, requalification_id)
    if TakeForm().validate():
        with domain_change() as change:
            assign_to(requalification, current_user, by=current_user, now=utcnow())
        if change:
            flash(
                f"You took {_named(requalification)}: it is in your team's queue now.",
                "success",
            )
    else:
        flash("The form had expired: nothing was taken. Try again.", "error")
    return redirect(url_for("pipeline.queue"))


@bp.post("/requalifications/<int:requalification_id>/assign")
@roles_required(Role.ADMIN)
def assign(requalification_id: int):
    requalification = db.get_or_404(Requalification, requalification_id)
    form = _assign_form()
    if not form.validate():
        flash("Choose the sales manager to assign it to.", "error")
        return redirect(url_for("pipeline.queue"))
    manager = db.session.get(User, int(form.manager_id.data))
    with domain_change() as change:
        assign_to(requalification, manager, by=current_user, now=utcnow())
    if change:
        flash(
            f"Assigned {_named(requalification)} to {manager.name}.",
            "success",
        )
    return redirect(url_for("pipeline.queue"))


def _detail(requalification: Requalification, **forms):
    accept_form = forms.get("accept_form") or AcceptForm(formdata=None)
    accept_form.owner.choices = _owner_choices()
    if not accept_form.owner.data:
        accept_form.owner.data = default_owner(requalification)
    opportunity = requalification.opportunity
    found = voices(requalification)
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
        voices=found,
        mentions=mentions(requalification, found),
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
        flash(
            f"Accepted {_named(requalification)}; owner: {requalification.owner}.",
            "success",
        )
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
        reason = REJECT_REASONS[requalification.reject_reason]
        flash(f"Rejected {_named(requalification)}: {reason}.", "success")
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
        flash(
            f"Deferred {_named(requalification)} until "
            f"{form.until.data.isoformat()}: it comes back to the queue that day.",
            "success",
        )
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
            flash(
                f"Recorded the first touch on {_named(requalification)}.",
                "success",
            )
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
        "accept": {"owner": form.owner.data or ""},  # empty: each deal keeps its own owner
        "reject": {"reason": form.reason.data or "", "text": form.text.data or ""},
        "defer": {"until": form.until.data},
    }[form.action.data]
    with domain_change() as change:
        result = bulk_decide(ids, form.action.data, reviewer=current_user, now=utcnow(), **values)
    if change:
        if result.done:
            flash(bulk_message(form.action.data, result, until=form.until.data), "success")
        for requalification_id, message in result.failed:
            flash(f"Not {PAST[form.action.data]}: WB-{requalification_id}: {message}", "error")
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
    from app.pipeline.digest import digest_for, sla_compliance, unassigned_digest

    now = utcnow()
    managers = db.session.scalars(
        select(User).where(User.role == Role.SALES_MANAGER, User.active.is_(True)).order_by(User.name)
    ).all()
    current = [(manager, digest_for(manager, now=now)) for manager in managers]
    return render_template(
        "pipeline/sla.html",
        rows=sla_compliance(),
        current=current,
        unassigned=unassigned_digest(now=now),
        settings=service.pipeline_settings(),
    )
