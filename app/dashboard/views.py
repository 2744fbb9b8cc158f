from datetime import date

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from app.auth.guard import public, staff_only
from app.auth.models import Role
from app.crm.service import loss_summary

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@public
def index():
    if current_user.is_authenticated:
        # A caller's home page is their call queue.
        if current_user.role is Role.CALLER:
            return redirect(url_for("calls.queue"))
        return redirect(url_for("dashboard.home"))
    return redirect(url_for("auth.login"))


@bp.get("/dashboard")
@staff_only
def home():
    summary = loss_summary(today=date.today())
    return render_template("dashboard/home.html", summary=summary)
