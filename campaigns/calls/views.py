"""The caller's queue and screen, the supervisor view, and Twilio's voice webhooks."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.auth.guard import roles_required
from app.auth.models import Role, User
from app.changes import domain_change
from app.crm.models import Contact
from app.db_types import utcnow
from app.errors import DomainError, ValidationError
from app.extensions import db
from campaigns.calls import reports
from campaigns.calls.clocks import (
    CALLBACK_FORMAT,
    CallbackOutsideWindow,
    callback_zone_name,
    contact_clock,
    describe_window,
    parse_callback,
    task_window,
)
from campaigns.calls.desk import contact_history, minutes_seconds, my_calls_today, talk_seconds
from campaigns.calls.dialing import (
    DialLimits,
    NotDialable,
    current_attempt,
    hand_back,
    mark_connected,
    ring_caller,
    start_call,
    withdraw_attempt,
)
from campaigns.calls.dispositions import dispose_call
from campaigns.calls.drafts import draft_values, save_draft
from campaigns.calls.health import held_numbers
from campaigns.calls.hours import zone_info
from campaigns.calls.models import (
    DISPOSITION_LABELS,
    REQUALIFICATION_FIELDS,
    CallAttempt,
    CallTask,
    Disposition,
    TaskStatus,
)
from campaigns.calls.queue import (
    callbacks_due_today,
    caller_campaigns,
    claim_cache,
    claim_next_task,
    held_task,
    queue_counts,
    touch_lease,
)
from campaigns.calls.script import ScriptIncomplete, save_script, script_html, task_response, web_answers
from campaigns.calls.voice import DialFailed, app_dialer, voice_configured
from campaigns.models import Enrollment

bp = Blueprint("calls", __name__, template_folder="templates")

callers_and_admins = roles_required(Role.CALLER, Role.ADMIN)
admin_only = roles_required(Role.ADMIN)
# One key per disposition, in the order the buttons show; "n" is Next call.
SHORTCUTS = {
    Disposition.NO_ANSWER: "1",
    Disposition.BUSY: "2",
    Disposition.VOICEMAIL: "3",
    Disposition.WRONG_NUMBER: "4",
    Disposition.CALLBACK: "5",
    Disposition.NOT_INTERESTED: "6",
    Disposition.COMPLETED: "7",
    Disposition.DO_NOT_CALL: "8",
    Disposition.REQUALIFIED: "9",
}


def _lease_seconds() -> int:
    return int(current_app.config.get("CALL_LEASE_SECONDS", 900))


# ------------------------------------------------------------------------------------------- queue


@bp.get("/calls")
@callers_and_admins
def queue():
    now = utcnow()
    campaigns = caller_campaigns(current_user)
    return render_template(
        "calls/queue.html",
        counts=queue_counts(now=now, campaigns=campaigns) if campaigns else None,
        campaigns=campaigns,
        callbacks=callbacks_due_today(current_user, now=now),
        held=held_task(current_user, now=now),
    )


@bp.post("/calls/next")
@callers_and_admins
def next_call():
    task = claim_next_task(
        current_user, now=utcnow(), lease_seconds=_lease_seconds(), cache=claim_cache(current_app)
    )
    task_id = task.id if task is not None else None  # read before the commit expires it
    db.session.commit()  # the lease is a row: no transaction stays open during the call
    if task_id is None:
        flash("Nobody is due for a call right now in your campaigns. Try again in a few minutes.", "info")
        return redirect(url_for("calls.queue"))
    return redirect(url_for("calls.task", task_id=task_id))


# What the caller's screen and a disposition read of a task, in the one query that loads it.
_TASK_PAGE = (
    joinedload(CallTask.contact).joinedload(Contact.account),
    joinedload(CallTask.campaign),
    joinedload(CallTask.enrollment).joinedload(Enrollment.opportunity),
)


def _own_task(task_id: int) -> CallTask:
    task = db.session.scalar(select(CallTask).where(CallTask.id == task_id).options(*_TASK_PAGE))
    if task is None:
        abort(404)
    if task.leased_by_id != current_user.id and current_user.role is not Role.ADMIN:
        if task.status is TaskStatus.LEASED or task.leased_by_id is not None:
            abort(403)
        last = db.session.scalar(
            select(CallAttempt.caller_id)
            .where(CallAttempt.task_id == task.id)
            .order_by(CallAttempt.id.desc())
        )
        if last != current_user.id:
            abort(403)
    return task


def _render_task(
    task: CallTask, *, status: int = 200, draft=None, errors=None, form=None, dialled=None, problems=None
):
    contact = task.contact
    now = utcnow()
    return (
        render_template(
            "calls/task.html",
            task=task,
            contact=contact,
            account=contact.account,
            opportunity=task.enrollment.opportunity,
            attempts=contact_history(task),
            my_calls=my_calls_today(current_user, now=now),
            talk_time=lambda attempt: minutes_seconds(talk_seconds(attempt)),
            clock=contact_clock(task, now=now),
            now=now,
            window_text=describe_window(task_window(task)),
            web_responses=web_answers(task),
            script=script_html(task, errors=errors, form=form),
            has_script=task.campaign.survey_version is not None,
            response=task_response(task),
            open_attempt=current_attempt(task),
            dispositions=[(d, DISPOSITION_LABELS[d], SHORTCUTS[d]) for d in Disposition],
            shortcuts=SHORTCUTS,
            requalification_fields=REQUALIFICATION_FIELDS,
            draft=draft if draft is not None else draft_values(task, current_user),
            problems=problems or [],
            voice=voice_configured(current_app.config),
            dialled=dialled,
            mine=held_task(current_user, now=now) is task,
        ),
        status,
    )


@bp.get("/calls/tasks/<int:task_id>")
@callers_and_admins
def task(task_id: int):
    return _render_task(_own_task(task_id))


@bp.post("/calls/tasks/<int:task_id>/dial")
@callers_and_admins
def dial(task_id: int):
    """Only the call the caller holds through the queue is dialled; Twilio is asked after the commit."""
    now = utcnow()
    task = _own_task(task_id)
    if task.is_open and held_task(current_user, now=now) is not task:
        flash("This call is not yours to dial now: press Next call to get the next one.", "error")
        return redirect(url_for("calls.queue"))
    try:
        attempt = start_call(
            task,
            current_user,
            now=now,
            limits=DialLimits.from_config(current_app.config),
            lease_seconds=_lease_seconds(),
            recording_consent=request.form.get("recording_consent") == "1",
        )
    except NotDialable as error:
        db.session.commit()  # a refused dial still closes or reschedules the task
        flash(error.message, "error")
        return redirect(url_for("calls.queue"))
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("calls.queue"))
    dialer = app_dialer()
    if dialer is None:
        mark_connected(attempt, "hand", now=now)  # dialling by hand: the caller is on the call now
    db.session.commit()  # kept before Twilio rings anyone: a crash after this leaves no unknown call
    if dialer is None:
        flash(f"Dial {attempt.phone} by hand now.", "info")
    elif attempt.twilio_call_sid is None:
        return _ring(attempt, dialer)
    return redirect(url_for("calls.task", task_id=task_id))


def _ring(attempt: CallAttempt, dialer):
    task_id = attempt.task_id
    try:
        ring_caller(attempt, current_user, dialer)  # no transaction is open while Twilio answers
    except DialFailed as error:
        db.session.rollback()
        withdraw_attempt(attempt)
        db.session.commit()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash("Your phone will ring: answer it and you are put through.", "success")
    return redirect(url_for("calls.task", task_id=task_id))


@bp.post("/calls/tasks/<int:task_id>/answers")
@callers_and_admins
def answers(task_id: int):
    """Autosave (fetch, debounced and on blur) and the no-JS "Save" button: the script and the draft."""
    task = _own_task(task_id)
    now = utcnow()
    wants_json = request.headers.get("X-Requested-With") == "fetch"
    try:
        touch_lease(task, current_user, now=now, lease_seconds=_lease_seconds())
        save_draft(task, current_user, request.form, now=now)
        errors = save_script(task, current_user, request.form, now=now)
    except DomainError as error:
        db.session.rollback()
        if wants_json:
            return jsonify(error.to_json()), error.status
        flash(error.message, "error")
        return redirect(url_for("calls.queue"))
    db.session.commit()
    if wants_json:
        return jsonify({"saved": now.isoformat(), "errors": {str(k): v for k, v in errors.items()}})
    if errors:
        return _render_task(task, status=422, errors=errors, form=request.form, draft=request.form.to_dict())
    flash("Saved.", "success")
    return redirect(url_for("calls.task", task_id=task.id))


def _keep_typed(task: CallTask, form) -> None:
    """A refused disposition rolled back: what was typed is saved still, as the autosave would have."""
    now = utcnow()
    try:
        touch_lease(task, current_user, now=now, lease_seconds=_lease_seconds())
        save_draft(task, current_user, form, now=now)
        save_script(task, current_user, form, now=now)
    except DomainError:
        db.session.rollback()
    else:
        db.session.commit()


def _refused(task: CallTask, form, error: DomainError):
    """Re-render with everything typed kept, the problem named and linked to its field."""
    draft = form.to_dict()
    errors = None
    problems = [(error.field or "call-form", error.message)]
    if isinstance(error, ScriptIncomplete):
        errors = error.errors
        problems = [(anchor, f"Answer “{text}”.") for anchor, text in error.links]
    if isinstance(error, CallbackOutsideWindow) and error.next_allowed is not None:
        zone = callback_zone_name(task, current_user.timezone, form.get("callback_zone", "contact"))
        draft["callback_at"] = error.next_allowed.astimezone(zone_info(zone)).strftime(CALLBACK_FORMAT)
        problems = [("callback_at", error.message + " It is filled in: press Callback requested to book it.")]
    return _render_task(task, status=422, draft=draft, form=form, errors=errors, problems=problems)


@bp.post("/calls/tasks/<int:task_id>/disposition")
@callers_and_admins
def disposition(task_id: int):
    task = _own_task(task_id)
    form = request.form
    try:
        chosen = Disposition(form.get("disposition", ""))
    except ValueError:
        abort(400)
    zone = callback_zone_name(task, current_user.timezone, form.get("callback_zone", "contact"))
    callback_at = parse_callback(form.get("callback_at"), zone)
    try:
        if form.get("callback_at", "").strip() and callback_at is None and chosen is Disposition.CALLBACK:
            raise ValidationError("Enter the callback time as a date and time.", field="callback_at")
        dispose_call(
            task,
            current_user,
            chosen,
            form,
            now=utcnow(),
            lease_seconds=_lease_seconds(),
            limits=DialLimits.from_config(current_app.config),
            notes=form.get("notes"),
            callback_at=callback_at,
            callback_for_me=form.get("callback_for", "me") != "anyone",
            requalification={name: form.get(name, "") for name, _ in REQUALIFICATION_FIELDS},
        )
    except NotDialable as error:
        db.session.commit()  # the task was closed or put back in the queue: say so on the queue page
        flash(error.message, "error")
        return redirect(url_for("calls.queue"))
    except DomainError as error:
        db.session.rollback()
        _keep_typed(task, form)
        return _refused(task, form, error)
    db.session.commit()
    flash(f"{task.contact.full_name}: {DISPOSITION_LABELS[chosen].lower()}.", "success")
    if form.get("then") == "stop":
        return redirect(url_for("calls.queue"))
    # 307 posts the same form (and its CSRF token) to Next call: the next claim is its own unit of work.
    return redirect(url_for("calls.next_call"), code=307)


# -------------------------------------------------------------------------------------- supervisor


@bp.get("/calls/supervisor")
@admin_only
def supervisor():
    now = utcnow()
    start, end = reports.period_from_args(request.args, now=now)
    return render_template(
        "calls/supervisor.html",
        counts=queue_counts(now=now),
        today=reports.caller_figures(start=now.replace(hour=0, minute=0, second=0, microsecond=0), end=now),
        period=reports.caller_figures(start=start, end=end),
        start=start,
        end=end - timedelta(days=1),
        leases=reports.leases(now=now),
        callbacks=reports.open_callbacks(),
        callers=db.session.scalars(
            select(User).where(User.role == Role.CALLER, User.active.is_(True)).order_by(User.name)
        ).all(),
        stuck=reports.stuck_contacts(),
        holds=held_numbers(now=now),
        recent=reports.recent_calls(start=start, end=end),
        handling_seconds=reports.handling_seconds,
    )


@bp.post("/calls/supervisor/tasks/<int:task_id>/release")
@admin_only
def release(task_id: int):
    task = db.get_or_404(CallTask, task_id)
    if task.status is TaskStatus.LEASED:
        hand_back(task, now=utcnow())
        db.session.commit()
        flash(f"The call to {task.contact.full_name} is back in the queue.", "success")
    return redirect(url_for("calls.supervisor"))


@bp.post("/calls/supervisor/tasks/<int:task_id>/reassign")
@admin_only
def reassign(task_id: int):
    task = db.get_or_404(CallTask, task_id)
    owner_id = request.form.get("owner_id", type=int)
    with domain_change() as change:
        reports.reassign_callback(task, owner_id)
    if change:
        flash("Callback reassigned.", "success")
    return redirect(url_for("calls.supervisor"))
