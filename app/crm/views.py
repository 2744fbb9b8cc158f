"""Browse lost deals and accounts: the context every role needs."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy import select

from app.auth.guard import staff_only
from app.crm.models import Account, Opportunity
from app.crm.service import (
    ACCOUNT_SORTS,
    OPPORTUNITY_SORTS,
    STATUSES,
    OpportunityFilters,
    accounts_query,
    filter_choices,
    opportunities_query,
)
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
