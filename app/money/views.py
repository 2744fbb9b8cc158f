"""The reporting currency and the exchange rates (admins)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for

from app.auth.guard import roles_required
from app.auth.models import Role
from app.changes import domain_change
from app.db_types import utcnow
from app.downloads import csv_response
from app.errors import ValidationError
from app.extensions import db
from app.money.forms import CurrencyForm, RateForm, RateImportForm
from app.money.models import ExchangeRate
from app.money.service import (
    delete_rate,
    import_rates,
    parse_currency,
    parse_month,
    parse_rate,
    rates_in_use,
    reporting_currency,
    set_rate,
    set_reporting_currency,
)

bp = Blueprint("money", __name__, template_folder="templates")
# Pages that show a figure already in the reporting currency (campaign amount rules) name it with this.
bp.add_app_template_global(reporting_currency, "reporting_currency_code")

MAX_UPLOAD_BYTES = 1024 * 1024


def _render(currency_form=None, rate_form=None, import_form=None, import_errors=(), status=200):
    current = reporting_currency()
    return render_template(
        "money/settings.html",
        currency=current,
        currency_form=currency_form or CurrencyForm(data={"currency": current}),
        rate_form=rate_form or RateForm(),
        import_form=import_form or RateImportForm(),
        rates=rates_in_use(),
        import_errors=import_errors,
    ), status


@bp.get("/settings/currency")
@roles_required(Role.ADMIN)
def settings():
    return _render()


@bp.post("/settings/currency")
@roles_required(Role.ADMIN)
def save_currency():
    form = CurrencyForm()
    if form.validate_on_submit():
        with domain_change() as change:
            settings = set_reporting_currency(form.currency.data or "", now=utcnow())
        if change:
            flash(f"Reports now show totals in {settings.currency}.", "success")
            return redirect(url_for("money.settings"))
    return _render(currency_form=form, status=422)


@bp.post("/settings/currency/rates")
@roles_required(Role.ADMIN)
def save_rate():
    form = RateForm()
    if form.validate_on_submit():
        try:
            month = parse_month(form.month.data)
            currency = parse_currency(form.currency.data)
            rate = parse_rate(form.rate.data)
        except ValidationError as error:
            getattr(form, error.field or "rate").errors.append(error.message)
        else:
            with domain_change() as change:
                set_rate(month=month, currency=currency, rate=rate, now=utcnow())
            if change:
                flash(
                    f"Rate saved: 1 {currency} = {rate} {reporting_currency()} in {month:%Y-%m}.", "success"
                )
                return redirect(url_for("money.settings"))
    return _render(rate_form=form, status=422)


@bp.post("/settings/currency/rates/<int:rate_id>/delete")
@roles_required(Role.ADMIN)
def remove_rate(rate_id: int):
    rate = db.get_or_404(ExchangeRate, rate_id)
    with domain_change():
        delete_rate(rate)
    flash("Rate deleted: amounts of that month and currency now show as not converted.", "success")
    return redirect(url_for("money.settings"))


@bp.post("/settings/currency/import")
@roles_required(Role.ADMIN)
def import_file():
    form = RateImportForm()
    if not form.validate_on_submit() or not form.file.data:
        form.file.errors = [*form.file.errors, "Choose a CSV file of rates."]
        return _render(import_form=form, status=422)
    data = form.file.data.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        form.file.errors = [f"Keep the file under {MAX_UPLOAD_BYTES // 1024} KB."]
        return _render(import_form=form, status=422)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        form.file.errors = ["The file must be UTF-8 text (CSV)."]
        return _render(import_form=form, status=422)
    try:
        result = import_rates(text, now=utcnow())
    except ValidationError as error:
        db.session.rollback()
        form.file.errors = [error.message]
        return _render(import_form=form, status=422)
    db.session.commit()
    if result.errors:
        flash(f"{result.saved} rates saved; {len(result.errors)} lines were not read (see below).", "warning")
        return _render(import_errors=result.errors, status=200)
    flash(f"{result.saved} rates saved.", "success")
    return redirect(url_for("money.settings"))


@bp.get("/settings/currency/rates.csv")
@roles_required(Role.ADMIN)
def export_rates():
    rows = ([f"{rate.month:%Y-%m}", rate.currency, f"{rate.rate.normalize():f}"] for rate in rates_in_use())
    return csv_response(f"exchange-rates-{reporting_currency()}.csv", ["month", "currency", "rate"], rows)
