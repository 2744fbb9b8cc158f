"""Messaging pages: the public unsubscribe page, Twilio webhooks, and the admin outbox, list and replies."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from app.auth.guard import public, roles_required
from app.auth.models import Role
from app.crm.models import Contact
from app.db_types import utcnow
from app.errors import DomainError
from app.extensions import csrf, db, limiter
from app.i18n.languages import default_language, normalise_language, resolve_language, set_page_language
from app.messaging.donotcontact import do_not_contact_query, import_do_not_contact, parse_entry
from app.messaging.forms import ActionForm, DoNotContactForm, DoNotContactImportForm
from app.messaging.models import (
    DoNotContactEntry,
    DoNotContactKind,
    InboundMessage,
    MessageStatus,
    OutboundMessage,
)
from app.messaging.optout import read_opt_out_token
from app.messaging.replies import record_inbound_sms
from app.messaging.service import add_do_not_contact, opt_out_contact
from app.messaging.status import apply_sms_status
from app.messaging.transports import email_is_simulated, sms_is_simulated

bp = Blueprint("messaging", __name__)

PER_PAGE = 50
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@bp.app_context_processor
def inject_delivery_mode():
    """Admins see a banner when emails or SMS go to the development sinks instead of real people."""
    simulated = []
    if not (current_user.is_authenticated and current_user.role is Role.ADMIN):
        return {"simulated_delivery": simulated}
    if email_is_simulated(current_app.config):
        simulated.append("emails are written to instance/mail/")
    if sms_is_simulated(current_app.config):
        simulated.append("SMS are written to the log")
    return {"simulated_delivery": simulated}


# ------------------------------------------------------------------------------------ unsubscribe


def _contact_for_token(token: str):
    named = read_opt_out_token(token)
    if named is None:
        return None, None
    contact = db.session.get(Contact, named[0])
    return contact, named[1]


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@public
@csrf.exempt  # RFC 8058 one-click POSTs carry no CSRF token: the signed token is the credential
@limiter.limit("30 per minute")
def unsubscribe(token: str):
    contact, channel = _contact_for_token(token)
    requested = normalise_language(request.args.get("lang", "")[:16])
    if contact is None:
        set_page_language(requested or default_language())
        return render_template("messaging/unsubscribe.html", state="invalid"), 404
    account_country = contact.account.country if contact.account else None
    set_page_language(requested or resolve_language(contact.language, contact.country, account_country))
    if request.method == "GET":  # a mail scanner following the link changes nothing
        state = "already" if contact.opted_out(channel) else "confirm"
        return render_template("messaging/unsubscribe.html", state=state, channel=channel, token=token)
    opt_out_contact(contact, channel, source=f"unsubscribe link ({channel.value})", now=utcnow())
    db.session.commit()
    return render_template("messaging/unsubscribe.html", state="done", channel=channel)


# ---------------------------------------------------------------------------------- Twilio webhooks


def _require_twilio_signature() -> None:
    """403 unless X-Twilio-Signature matches the public URL Twilio called and the posted fields."""
    token = current_app.config.get("TWILIO_AUTH_TOKEN")
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        abort(403)
    url = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + request.path
    if request.query_string:
        url += "?" + request.query_string.decode()
    if not RequestValidator(token).validate(url, request.form.to_dict(), signature):
        abort(403)


# Twilio's SIDs are 34 characters, numbers a few dozen at most, error codes five digits: anything longer
# is not from Twilio's API and would not fit the columns (a 400, never a database error).
_TWILIO_FIELD_LIMITS = {"MessageSid": 64, "From": 64, "To": 64, "MessageStatus": 32, "ErrorCode": 10}


def _require_twilio_field_sizes() -> None:
    form = request.form
    if any(len(form.get(name, "")) > limit for name, limit in _TWILIO_FIELD_LIMITS.items()):
        abort(400)


def _twiml():
    return current_app.response_class(EMPTY_TWIML, mimetype="application/xml")


@bp.post("/twilio/sms/inbound")
@public
@csrf.exempt
def twilio_sms_inbound():
    _require_twilio_signature()
    _require_twilio_field_sizes()
    form = request.form
    if not form.get("MessageSid") or not form.get("From"):
        abort(400)
    record_inbound_sms(
        message_sid=form["MessageSid"],
        sender=form["From"],
        recipient=form.get("To"),
        body=form.get("Body", ""),
        now=utcnow(),
    )
    db.session.commit()
    return _twiml()


@bp.post("/twilio/sms/status")
@public
@csrf.exempt
def twilio_sms_status():
    _require_twilio_signature()
    _require_twilio_field_sizes()
    form = request.form
    if not form.get("MessageSid") or not form.get("MessageStatus"):
        abort(400)
    apply_sms_status(
        form["MessageSid"], form["MessageStatus"], error_code=form.get("ErrorCode"), now=utcnow()
    )
    db.session.commit()
    return "", 204


# ---------------------------------------------------------------------------------------- outbox


@bp.get("/outbox")
@roles_required(Role.ADMIN)
def outbox():
    status = request.args.get("status", "")
    query = select(OutboundMessage).order_by(OutboundMessage.created_at.desc(), OutboundMessage.id.desc())
    if status in {s.value for s in MessageStatus}:
        query = query.where(OutboundMessage.status == MessageStatus(status))
    counts = dict(
        db.session.execute(
            select(OutboundMessage.status, func.count()).group_by(OutboundMessage.status)
        ).all()
    )
    page = db.paginate(query, per_page=PER_PAGE, error_out=False)
    return render_template(
        "messaging/outbox.html",
        page=page,
        status=status,
        statuses=list(MessageStatus),
        counts=counts,
        form=ActionForm(),
    )


@bp.post("/outbox/<int:message_id>/resend")
@roles_required(Role.ADMIN)
def outbox_resend(message_id: int):
    message = db.get_or_404(OutboundMessage, message_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    message.resend(now=utcnow())
    db.session.commit()
    flash(f"Message {message.id} to {message.recipient} is queued again.", "success")
    return redirect(url_for(".outbox", status=request.args.get("status", "")))


# ------------------------------------------------------------------------------ do-not-contact list


@bp.route("/do-not-contact", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def do_not_contact():
    form = DoNotContactForm(prefix="add")
    import_form = DoNotContactImportForm(prefix="import")
    if form.validate_on_submit():
        try:
            kind, value = parse_entry(
                form.value.data,
                kind=DoNotContactKind(form.kind.data) if form.kind.data else None,
                default_region=current_app.config["DEFAULT_PHONE_REGION"],
            )
        except DomainError as error:
            form.value.errors.append(error.message)
        else:
            _, created = add_do_not_contact(
                kind,
                value,
                source=f"admin: {current_user.email}",
                note=form.note.data or None,
                now=utcnow(),
                created_by_id=current_user.id,
            )
            db.session.commit()
            flash(f"{value} is on the list." if created else f"{value} was already on the list.", "success")
            return redirect(url_for(".do_not_contact"))
    search, kind = request.args.get("q", ""), request.args.get("kind", "")
    page = db.paginate(do_not_contact_query(search, kind), per_page=PER_PAGE, error_out=False)
    return render_template(
        "messaging/do_not_contact.html",
        page=page,
        form=form,
        import_form=import_form,
        delete_form=ActionForm(),
        search=search,
        kind=kind,
        kinds=list(DoNotContactKind),
    )


@bp.post("/do-not-contact/import")
@roles_required(Role.ADMIN)
def do_not_contact_import():
    form = DoNotContactImportForm(prefix="import")
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
        return redirect(url_for(".do_not_contact"))
    parts, names = [], []
    if form.file.data:
        parts.append(form.file.data.read().decode("utf-8-sig", errors="replace"))
        names.append(form.file.data.filename or "upload")
    if form.pasted.data and form.pasted.data.strip():
        parts.append(form.pasted.data)
        names.append("pasted list")
    if not parts:
        flash("Choose a file or paste a list first.", "error")
        return redirect(url_for(".do_not_contact"))
    report = import_do_not_contact(
        "\n".join(parts),
        source=f"import: {', '.join(names)} by {current_user.email}",
        now=utcnow(),
        created_by_id=current_user.id,
        default_region=current_app.config["DEFAULT_PHONE_REGION"],
    )
    db.session.commit()
    flash(f"Added {report.added}; {report.already_listed} were already on the list.", "success")
    for line, value, message in report.errors[:20]:
        flash(f"Line {line}: {message} ({value!r} skipped)", "error")
    if len(report.errors) > 20:
        flash(f"…and {len(report.errors) - 20} more values skipped.", "error")
    return redirect(url_for(".do_not_contact"))


@bp.route("/do-not-contact/<int:entry_id>/delete", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def do_not_contact_delete(entry_id: int):
    """GET asks first (removing an entry lets campaigns reach that person again); POST removes."""
    entry = db.get_or_404(DoNotContactEntry, entry_id)
    if request.method == "GET":
        return render_template(
            "confirm.html",
            title=f"Remove {entry.value} from the do-not-contact list?",
            lines=[
                f"Added {entry.created_at:%Y-%m-%d}, source: {entry.source}.",
                "Once removed, campaigns may email, text or call this "
                + {"email": "address", "phone": "number", "domain": "domain"}.get(entry.kind.value, "entry")
                + " again.",
            ],
            action=url_for(".do_not_contact_delete", entry_id=entry.id),
            button=f"Yes, remove {entry.value}",
            cancel=url_for(".do_not_contact"),
        )
    if not ActionForm().validate_on_submit():
        abort(400)
    value = entry.value
    db.session.delete(entry)
    db.session.commit()
    flash(f"{value} is no longer on the list.", "success")
    return redirect(url_for(".do_not_contact"))


# ------------------------------------------------------------------------------------------ replies


@bp.get("/replies")
@roles_required(Role.ADMIN)
def replies():
    show = request.args.get("show", "review")
    query = select(InboundMessage).order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())
    if show != "all":
        query = query.where(InboundMessage.needs_review.is_(True))
    page = db.paginate(query, per_page=PER_PAGE, error_out=False)
    waiting = db.session.scalar(
        select(func.count()).select_from(InboundMessage).where(InboundMessage.needs_review.is_(True))
    )
    return render_template("messaging/replies.html", page=page, show=show, waiting=waiting, form=ActionForm())


@bp.post("/replies/<int:reply_id>/review")
@roles_required(Role.ADMIN)
def reply_review(reply_id: int):
    reply = db.get_or_404(InboundMessage, reply_id)
    decision = request.form.get("decision")
    if not ActionForm().validate_on_submit() or decision not in ("opt_out", "done"):
        abort(400)
    now = utcnow()
    if decision == "opt_out":
        contacts = db.session.scalars(select(Contact).where(Contact.phone == reply.sender)).all()
        for contact in contacts:
            opt_out_contact(contact, None, source=f"reply reviewed by {current_user.email}", now=now)
        add_do_not_contact(
            DoNotContactKind.PHONE, reply.sender, source=f"reply reviewed by {current_user.email}", now=now
        )
        reply.action_taken = f"opted out of everything by {current_user.email}"
    else:
        reply.action_taken = reply.action_taken or f"reviewed by {current_user.email}: no action"
    reply.needs_review = False
    reply.reviewed_at = now
    reply.reviewed_by_id = current_user.id
    db.session.commit()
    flash("Reply reviewed.", "success")
    return redirect(url_for(".replies"))
