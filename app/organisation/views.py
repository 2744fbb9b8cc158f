"""Organisation settings (admins) and the brand assets survey pages load (public)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from app.auth.guard import public, roles_required
from app.auth.models import Role
from app.changes import domain_change
from app.db_types import utcnow
from app.extensions import db
from app.organisation.forms import OrganisationForm
from app.organisation.models import Organisation
from app.organisation.service import LOGO_MAX_BYTES, brand, get_organisation, update_organisation

bp = Blueprint("organisation", __name__)


@bp.route("/settings/organisation", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def settings():
    organisation = get_organisation()
    form = OrganisationForm(obj=organisation if request.method == "GET" else None)
    if form.validate_on_submit():
        upload = form.logo.data
        logo = upload.read(LOGO_MAX_BYTES + 1) if upload else None
        with domain_change() as change:
            update_organisation(
                name=form.name.data or "",
                brand_colour=form.brand_colour.data or "",
                postal_address=form.postal_address.data or "",
                logo=logo or None,
                remove_logo=form.remove_logo.data,
                now=utcnow(),
            )
        if change:
            flash("Organisation settings saved. Survey pages and new emails use them.", "success")
            return redirect(url_for("organisation.settings"))
        status = 422
    else:
        db.session.rollback()
        status = 422 if form.errors else 200
    return render_template("organisation/settings.html", form=form, organisation=organisation), status


@bp.get("/brand/logo")
@public
def logo():
    """The uploaded logo, served from the app (no third party sees the customer's visit)."""
    organisation = db.session.get(Organisation, 1)
    if organisation is None or organisation.logo is None:
        abort(404)
    response = Response(organisation.logo, mimetype=organisation.logo_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    response.cache_control.public = True
    response.cache_control.max_age = 3600 if request.args.get("v") else 60
    return response


@bp.get("/brand.css")
@public
def brand_css():
    """The brand colour as a stylesheet: pages keep a Content-Security-Policy without inline styles."""
    colour = brand().colour
    css = ""
    if colour:
        css = (
            ".respondent {\n"
            f"  --brand: {colour};\n"
            f"  --pico-primary: {colour};\n"
            f"  --pico-primary-background: {colour};\n"
            f"  --pico-primary-border: {colour};\n"
            f"  --pico-primary-hover: {colour};\n"
            f"  --pico-primary-hover-background: {colour};\n"
            f"  --pico-primary-underline: {colour};\n"
            "}\n"
            ".respondent .brand-name, .respondent h1 { color: var(--brand); }\n"
        )
    response = Response(css, mimetype="text/css")
    response.cache_control.public = True
    response.cache_control.max_age = 60
    return response
