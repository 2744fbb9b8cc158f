"""Browse lost deals and accounts: the context every role needs."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.auth.guard import staff_only
from app.crm.contacts import contact_language, set_language, set_whereabouts
from app.crm.forms import LanguageForm, WhereaboutsForm
from app.crm.models import Account, Contact, Opportunity
from app.crm.places import contact_zones
from app.crm.service import (
    ACCOUNT_SORTS,
    OPPORTUNITY_SORTS,
    STATUSES,
    OpportunityFilters,
    accounts_query,
    filter_choices,
    opportunities_query,
)
from app.db_types import utcnow
from app.errors import DomainError
from app.extensions import db
from app.tables import parse_sort

bp = Blueprint("crm", __name__)

PER_PAGE = 50


@bp.get("/opportunities")
@staff_only
def opportunities():
    args = request.args
    status = args.get("status", "lost")
    filters = OpportunityFilters(
        status=status if status in STATUSES else "lost",
        search=args.get("q", ""),
        segment=args.get("segment", ""),
        region=args.get("region", ""),
        competitor_id=args.get("competitor", type=int),
        loss_reason=args.get("reason", ""),
    )
    sort = parse_sort(args.get("sort"), OPPORTUNITY_SORTS, default="-closed")
    page = db.paginate(opportunities_query(filters, sort.clauses), per_page=PER_PAGE, error_out=False)
    return render_template(
        "crm/opportunities.html",
        page=page,
        sort=sort.key,
        filters=filters,
        choices=filter_choices(),
        statuses=STATUSES,
    )


@bp.get("/opportunities/<int:opportunity_id>")
@staff_only
def opportunity(opportunity_id: int):
    opp = db.get_or_404(Opportunity, opportunity_id)
    return render_template("crm/opportunity.html", opp=opp)


@bp.get("/accounts")
@staff_only
def accounts():
    search = request.args.get("q", "")
    sort = parse_sort(request.args.get("sort"), ACCOUNT_SORTS, default="name")
    page = db.paginate(accounts_query(search, sort.clauses), per_page=PER_PAGE, error_out=False)
    return render_template("crm/accounts.html", page=page, search=search, sort=sort.key)


@bp.get("/accounts/<int:account_id>")
@staff_only
def account(account_id: int):
    acct = db.get_or_404(Account, account_id)
    opps = db.session.scalars(
        select(Opportunity)
        .where(Opportunity.account_id == acct.id)
        .order_by(Opportunity.close_date.desc().nulls_last())
    ).all()
    return render_template("crm/account.html", account=acct, opportunities=opps)


@bp.route("/contacts/<int:contact_id>", methods=["GET", "POST"])
@staff_only
def contact(contact_id: int):
    person = db.get_or_404(Contact, contact_id)
    form = WhereaboutsForm(obj=person)
    if form.validate_on_submit():
        try:
            changes = set_whereabouts(
                person,
                timezone=form.timezone.data or "",
                state=form.state.data or "",
                country=form.country.data or "",
                actor=current_user,
                now=utcnow(),
            )
        except DomainError as error:
            getattr(form, error.field or "timezone").errors.append(error.message)
        else:
            db.session.commit()
            flash("Saved: calls follow the new time zone." if changes else "Nothing changed.", "success")
            return redirect(url_for(".contact", contact_id=person.id))
    status = 422 if form.errors else 200
    return _contact_page(person, form, LanguageForm(language=person.language or ""), status)


def _contact_page(person: Contact, form: WhereaboutsForm, language_form: LanguageForm, status: int):
    return render_template(
        "crm/contact.html",
        contact=person,
        form=form,
        language_form=language_form,
        language=contact_language(person),
        zones=contact_zones(person),
    ), status


@bp.post("/contacts/<int:contact_id>/language")
@staff_only
def contact_language_set(contact_id: int):
    person = db.get_or_404(Contact, contact_id)
    language_form = LanguageForm()
    if language_form.validate_on_submit():
        try:
            changed = set_language(
                person, language_form.language.data or "", actor=current_user, now=utcnow()
            )
        except DomainError as error:
            language_form.language.errors.append(error.message)
        else:
            db.session.commit()
            flash(
                "Saved: messages and surveys follow the new language." if changed else "Nothing changed.",
                "success",
            )
            return redirect(url_for(".contact", contact_id=person.id))
    return _contact_page(person, WhereaboutsForm(obj=person), language_form, 422)
