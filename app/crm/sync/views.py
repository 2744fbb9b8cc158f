"""The CRM connection page (admins): the login, stored encrypted, and "Test connection"."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from app.auth.guard import roles_required
from app.auth.models import Role
from app.changes import domain_change
from app.crm.sync import connector_for
from app.crm.sync.base import CrmUnavailable
from app.crm.sync.credentials import CRM_NAMES, KEY_SETTING, save_credential, summaries
from app.crm.sync.forms import ConnectionForm, TestForm
from app.crm.sync.service import sync_connections
from app.db_types import utcnow
from app.extensions import db

bp = Blueprint("crm_sync", __name__, url_prefix="/imports/crm-connection", template_folder="templates")
admins = roles_required(Role.ADMIN)


def _page(form: ConnectionForm, *, checks=None, tested=None, status: int = 200):
    form.private_key.data = ""  # a secret is never sent back to the browser
    page = render_template(
        "crm_sync/connection.html",
        form=form,
        test_form=TestForm(formdata=None),
        stored=summaries(current_app.config),
        connections=sync_connections(),
        key_set=bool(current_app.config.get(KEY_SETTING)),
        checks=checks,
        names=CRM_NAMES,
        tested=tested,
    )
    return page, status


@bp.route("", methods=["GET", "POST"])
@admins
def connection():
    form = ConnectionForm()
    if not form.validate_on_submit():
        return _page(form, status=422 if form.errors else 200)
    source, method = form.method.data.split(":", 1)
    with domain_change() as change:
        save_credential(
            source,
            method,
            {name: getattr(form, name).data for name in form.data if name not in ("method", "csrf_token")},
            config=current_app.config,
            actor_label=current_user.email,
            now=utcnow(),
        )
    if not change:
        return _page(form, status=422)
    flash(f"Saved the {CRM_NAMES[source]} login; its secrets are stored encrypted. Test it below.", "success")
    return redirect(url_for("crm_sync.connection"))


@bp.post("/test")
@admins
def test():
    form = TestForm()
    if not form.validate():
        flash("Choose the CRM to test.", "error")
        return redirect(url_for("crm_sync.connection"))
    source = form.crm.data
    try:
        checks = connector_for(source, current_app.config).check()
    except CrmUnavailable as error:
        checks = [(False, error.message)]
    db.session.rollback()  # a test reads; it changes nothing here
    return _page(ConnectionForm(formdata=None), checks=checks, tested=source)
