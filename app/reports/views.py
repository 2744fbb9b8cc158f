"""Report pages: parse the filters of the URL, call one report service, render the chart and its table."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, render_template, request, url_for

from app.auth.guard import roles_required
from app.auth.models import Role
from app.codebook.models import ReasonCode
from app.downloads import csv_response
from app.extensions import db
from app.reports.callers import callers_report, talk_time
from app.reports.charts import columns, horizontal_bars
from app.reports.export import deal_cells, deal_header
from app.reports.filters import filter_choices, parse_filters, refuse_bad_filters
from app.reports.loss_reasons import DRILL_CSV_MAX, loss_reasons_report, reason_drill_down
from app.reports.sales_vs_customers import sales_vs_customers_report
from app.templating import format_money

bp = Blueprint("reports", __name__, template_folder="templates")
bp.add_app_template_filter(talk_time, "talk_time")

READERS = (Role.ADMIN, Role.SALES_MANAGER, Role.ANALYST)


def _filters():
    filters, errors = parse_filters(request.args, today=date.today())
    return filters, errors, 400 if errors else 200


@bp.get("/reports")
@roles_required(*READERS)
def index():
    return render_template("reports/index.html")


def _value_text(weight: str, bar, currency: str) -> str:
    return format_money(bar.amount, currency) if weight == "amount" else str(bar.deals)


@bp.get("/reports/loss-reasons")
@roles_required(*READERS)
def loss_reasons():
    filters, errors, status = _filters()
    report = loss_reasons_report(filters)
    by_code = request.args.get("view") == "codes"  # themes by default, every code one click away
    bars, height = horizontal_bars(
        (
            bar.label,
            bar.value(filters.weight),
            _value_text(filters.weight, bar, report.currency),
            url_for("reports.loss_reason_detail", code_id=bar.code_id, **filters.args())
            if by_code
            else url_for("reports.loss_reason_detail", code_id=bar.theme.id, theme=1, **filters.args()),
        )
        for bar in (report.bars if by_code else report.themes)
    )
    trend_columns, trend_height = columns(
        (
            row.month.strftime("%b %y"),
            row.amount if filters.weight == "amount" else row.deals,
            format_money(row.amount, report.currency) if filters.weight == "amount" else str(row.deals),
        )
        for row in report.trend
    )
    return render_template(
        "reports/loss_reasons.html",
        report=report,
        by_code=by_code,
        filters=filters,
        errors=errors,
        choices=filter_choices(),
        bars=bars,
        bars_height=height,
        trend_columns=trend_columns,
        trend_height=trend_height,
    ), status


@bp.get("/reports/loss-reasons.csv")
@roles_required(*READERS)
def loss_reasons_csv():
    filters, errors, _status = _filters()
    refuse_bad_filters(errors)
    report = loss_reasons_report(filters)
    period = f"{filters.start:%Y-%m-%d}_{filters.end:%Y-%m-%d}"
    if request.args.get("table") == "trend":
        header = ["Month", "Deals with a reason", f"Amount ({report.currency})"]
        header += [f"Deals: {bar.label}" for bar in report.trend_reasons]
        rows = ([f"{r.month:%Y-%m}", r.deals, r.amount, *r.by_reason] for r in report.trend)
        return csv_response(f"loss-reasons-trend_{period}.csv", header, rows)

    def share(bar) -> float:
        return round(100 * bar.deals / report.deals_with_reasons, 1) if report.deals_with_reasons else 0

    if request.args.get("table") == "themes":
        header = [
            "Theme code",
            "Theme",
            "Deals",
            f"Amount ({report.currency})",
            "Share of deals with a reason (%)",
        ]
        rows = ([t.code, t.label, t.deals, t.amount, share(t)] for t in report.themes)
        return csv_response(f"loss-reason-themes_{period}.csv", header, rows)
    header = ["Theme code", "Theme", "Code", "Reason", "Deals", f"Amount ({report.currency})"]
    header.append("Share of deals with a reason (%)")
    rows = (
        [theme.code, theme.label, bar.code, bar.label, bar.deals, bar.amount, share(bar)]
        for theme in report.themes
        for bar in theme.children
    )
    return csv_response(f"loss-reasons_{period}.csv", header, rows)


def _whole_theme() -> bool:
    """?theme=1: the drill-down of the whole theme the code heads, not of the code alone."""
    return request.args.get("theme") == "1"


@bp.get("/reports/loss-reasons/<int:code_id>")
@roles_required(*READERS)
def loss_reason_detail(code_id: int):
    code = db.get_or_404(ReasonCode, code_id)
    filters, errors, status = _filters()
    drill = reason_drill_down(
        filters, code, page=request.args.get("page", 1, type=int), whole_theme=_whole_theme()
    )
    return render_template(
        "reports/loss_reason_detail.html",
        drill=drill,
        filters=filters,
        errors=errors,
        drill_csv_max=DRILL_CSV_MAX,
    ), status


@bp.get("/reports/loss-reasons/<int:code_id>.csv")
@roles_required(*READERS)
def loss_reason_detail_csv(code_id: int):
    code = db.get_or_404(ReasonCode, code_id)
    filters, errors, _status = _filters()
    refuse_bad_filters(errors)
    drill = reason_drill_down(filters, code, per_page=DRILL_CSV_MAX, whole_theme=_whole_theme())
    header = ["Theme code", "Theme", "Code", *deal_header(drill.currency), "What the customer said"]
    theme = drill.theme
    rows = (
        [
            theme.code if theme else code.code,
            theme.label if theme else code.label,
            drill.codes(deal.id),
            *deal_cells(deal),
            " | ".join(f"{v.question}: {v.text}" for v in drill.verbatims.get(deal.id, [])),
        ]
        for deal in drill.deals
    )
    name = f"loss-reason-theme-{code.code}" if drill.whole_theme else f"loss-reason-{code.code}"
    return csv_response(f"{name}.csv", header, rows)


@bp.get("/reports/sales-vs-customers")
@roles_required(*READERS)
def sales_vs_customers():
    filters, errors, status = _filters()
    report = sales_vs_customers_report(filters)
    bars, height = horizontal_bars(
        (f"{owner.owner} ({owner.agreed} of {owner.compared})", owner.rate, f"{owner.rate:.0%}", None)
        for owner in report.owners
    )
    return render_template(
        "reports/sales_vs_customers.html",
        report=report,
        filters=filters,
        errors=errors,
        choices=filter_choices(),
        bars=bars,
        bars_height=height,
    ), status


@bp.get("/reports/sales-vs-customers.csv")
@roles_required(*READERS)
def sales_vs_customers_csv():
    filters, errors, _status = _filters()
    refuse_bad_filters(errors)
    report = sales_vs_customers_report(filters)
    period = f"{filters.start:%Y-%m-%d}_{filters.end:%Y-%m-%d}"
    table = request.args.get("table")
    if table == "owners":
        header = ["Sales owner", "Deals compared", "Agreed", "Agreement (%)"]
        rows = ([o.owner, o.compared, o.agreed, round(100 * o.rate, 1)] for o in report.owners)
        return csv_response(f"sales-vs-customers-owners_{period}.csv", header, rows)
    if table == "mismatches":
        header = ["Sales said", "Customers said", "Deals", "Examples"]
        rows = (
            [m.sales.label, m.customer.label, m.deals, " | ".join(deal.name for deal, _ in m.examples)]
            for m in report.mismatches
        )
        return csv_response(f"sales-vs-customers-mismatches_{period}.csv", header, rows)
    header = ["Sales said \\ Customers said", *(c.label for c in report.customer_categories)]
    rows = (
        [s.label, *(report.matrix.get((s.code, c.code), 0) for c in report.customer_categories)]
        for s in report.sales_categories
    )
    return csv_response(f"sales-vs-customers_{period}.csv", header, rows)


def _period():
    filters, errors, status = _filters()
    return filters, errors, status


@bp.get("/reports/callers")
@roles_required(Role.ADMIN, Role.SALES_MANAGER)
def callers():
    filters, errors, status = _period()
    rows = callers_report(filters.start, filters.end)
    bars, height = horizontal_bars(
        (row.caller, row.calls, f"{row.calls} calls, {row.connects} connects", None) for row in rows
    )
    return render_template(
        "reports/callers.html", rows=rows, filters=filters, errors=errors, bars=bars, bars_height=height
    ), status


@bp.get("/reports/callers.csv")
@roles_required(Role.ADMIN, Role.SALES_MANAGER)
def callers_csv():
    filters, errors, _status = _period()
    refuse_bad_filters(errors)
    header = [
        "Caller",
        "Calls",
        "Connects",
        "Completes",
        "Requalified",
        "Talk time (seconds)",
        "Average handling time (seconds)",
    ]
    rows = (
        [r.caller, r.calls, r.connects, r.completes, r.requalified, r.talk_seconds, r.handling_seconds]
        for r in callers_report(filters.start, filters.end)
    )
    return csv_response(f"callers_{filters.start:%Y-%m-%d}_{filters.end:%Y-%m-%d}.csv", header, rows)
