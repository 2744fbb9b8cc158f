"""The API tokens page: each integration that pushes to the API gets its own bearer token."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from app.api.forms import TokenForm
from app.api.models import ApiToken
from app.api.service import create_token, revoke_token
from app.auth.guard import roles_required
from app.auth.models import Role
from app.crm.forms import ActionForm
from app.db_types import utcnow
from app.errors import DomainError
from app.extensions import db

# Beside the imports (same address as before): tokens feed the same import path as files.
bp = Blueprint("api_tokens", __name__, url_prefix="/imports")


@bp.route("/api-tokens", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def api_tokens():
    form = TokenForm()
    secret = None
    if form.validate_on_submit():
        try:
            token, secret = create_token(
                form.name.data, scopes=form.scopes.data, created_by_id=current_user.id, now=utcnow()
            )
        except DomainError as error:
            db.session.rollback()
            form.name.errors = [error.message]
        else:
            db.session.commit()
            flash(f"Token '{token.name}' created. Copy it now: it will not be shown again.", "success")
    tokens = db.session.scalars(select(ApiToken).order_by(ApiToken.created_at.desc())).all()
    return render_template(
        "api/tokens.html", form=form, tokens=tokens, secret=secret, revoke_form=ActionForm()
    )


@bp.post("/api-tokens/<int:token_id>/revoke")
@roles_required(Role.ADMIN)
def revoke(token_id: int):
    form = ActionForm()
    token = db.get_or_404(ApiToken, token_id)
    if form.validate_on_submit():
        revoke_token(token, now=utcnow())
        db.session.commit()
        flash(f"Token '{token.name}' revoked: calls with it now get 401.", "success")
    return redirect(url_for(".api_tokens"))
