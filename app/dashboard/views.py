from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user

from app.auth.guard import public, roles_required, staff_only
from app.auth.menu import home_endpoint
from app.auth.models import Role
from app.crm.service import loss_summary

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@public
def index():
    if current_user.is_authenticated:
        return redirect(url_for(home_endpoint(current_user.role)))  # a caller's is their call queue
    return redirect(url_for("auth.login"))


@bp.get("/dashboard")
@staff_only
def home():
    today = date.today()
    # Counts, top lists and lost revenue (converted in SQL) in one pass over the lost deals; each role's own
    # sections come from the panels higher layers register.
    summary = loss_summary(today=today)
    return render_template("dashboard/home.html", summary=summary, lost_revenue=summary.lost_revenue)


@dataclass(frozen=True)
class SamplePage:
    """Stands in for db.paginate's page on the style guide."""

    page: int = 2
    pages: int = 5
    total: int = 123
    has_prev: bool = True
    has_next: bool = True
    prev_num: int = 1
    next_num: int = 3


SAMPLE_ROWS = (
    ("Vandelay Industries", "Enterprise", "Northern America", Decimal(120000)),
    ("Kramerica", "Mid-market", "Western Europe", Decimal(48000)),
    ("Pendant Publishing", "Small business", "Northern Europe", Decimal("9500.50")),
)


@bp.get("/styleguide")
@roles_required(Role.ADMIN)
def styleguide():
    """The staff layout's components, each in each state, as pages use them."""
    return render_template(
        "dashboard/styleguide.html",
        sample_pages={
            "a middle page": SamplePage(),
            "the first page": SamplePage(page=1, has_prev=False, prev_num=0, next_num=2),
            "the last page": SamplePage(page=5, has_next=False, prev_num=4, next_num=0),
        },
        sample_rows=SAMPLE_ROWS,
        sort=request.args.get("sort", "name"),
    )
