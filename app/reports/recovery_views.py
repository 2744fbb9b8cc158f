"""Report pages for what comes back: the recovery funnel, competitors and the sales follow-up.

Same blueprint as the other reports; filters in the URL, a chart with its table, CSV for every table.
"""

from __future__ import annotations

from datetime import date

from flask import abort, render_template, request, url_for

from app.auth.guard import roles_required
from app.crm.models import Competitor
from app.downloads import csv_response
from app.extensions import db
from app.money.service import reporting_currency
from app.pipeline.models import REJECT_REASONS
from app.reports.charts import horizontal_bars
from app.reports.competitors import competitor_deals, competitors_report
from app.reports.export import converted_cell, deal_cells, deal_header
from app.reports.filters import filter_choices, parse_filters, refuse_bad_filters
from app.reports.funnel import (
    DRILL_STEPS,
    OPEN_PIPELINE,
    STEP_KEYS,
    STEP_LABELS,
    STEPS,
    campaign_choices,
    funnel_report,
    parse_campaign,
    step_deals,
)
from app.reports.routes import Routes
from app.reports.sales_follow_up import sales_follow_up_report
from app.reports.views import READERS
from app.templating import format_money

routes = Routes()  # added to the reports blueprint by app.reports


def _filters():
    filters, errors = parse_filters(request.args, today=date.today())
    return filters, errors


def _period_name(filters) -> str:
    return f"{filters.start:%Y-%m-%d}_{filters.end:%Y-%m-%d}"


def _days(value: float | None) -> str | float:
    return "" if value is None else round(value, 1)


def _money_cell(group) -> str:
    return f"{group.total:.2f}"


def _not_converted_cell(group) -> str:
    return "; ".join(f"{item.amount:.2f} {item.currency} ({item.deals})" for item in group.not_converted)


# --- Recovery funnel ---------------------------------------------------------------------------------


def _funnel_args():
    filters, errors = _filters()
    campaign_id = parse_campaign(request.args, errors)
    return filters, errors, campaign_id


@routes.get("/reports/funnel")
@roles_required(*READERS)
def funnel():
    filters, errors, campaign_id = _funnel_args()
    report = funnel_report(filters.start, filters.end, campaign_id=campaign_id)
    args = {**filters.args(), **({"campaign": campaign_id} if campaign_id else {})}
    overall = report.overall
    bars, height = horizontal_bars(
        (
            label,
            overall.count(key),
            f"{overall.count(key)}"
            + ("" if key == "enrolled" else f" ({overall.conversion(key):.0%} of the step before)"),
            url_for("reports.funnel_step", step=key, **args),
        )
        for key, label, _ in STEPS
    )
    channel_bars, channel_height = horizontal_bars(
        (
            "SMS" if row.channel == "sms" else row.channel.capitalize(),
            row.response_rate,
            f"{row.response_rate:.0%} ({row.responded} of {row.contacted})",
            None,
        )
        for row in report.channels
    )
    return render_template(
        "reports/funnel.html",
        report=report,
        filters=filters,
        errors=errors,
        campaigns=campaign_choices(),
        args=args,
        steps=STEPS,
        bars=bars,
        bars_height=height,
        channel_bars=channel_bars,
        channel_height=channel_height,
    ), 400 if errors else 200


@routes.get("/reports/funnel.csv")
@roles_required(*READERS)
def funnel_csv():
    filters, errors, campaign_id = _funnel_args()
    refuse_bad_filters(errors)
    report = funnel_report(filters.start, filters.end, campaign_id=campaign_id)
    period = _period_name(filters)
    if request.args.get("table") == "channels":
        header = ["Channel", "Contacted", "Reached", "Responded", "Response rate (%)"]
        rows = (
            [r.channel, r.contacted, r.reached, r.responded, round(100 * r.response_rate, 1)]
            for r in report.channels
        )
        return csv_response(f"funnel-channels_{period}.csv", header, rows)
    currency = report.currency
    header = ["Campaign", *(label for _, label, _ in STEPS)]
    header += [f"{label} (% of the step before)" for _, label, _ in STEPS[1:]]
    header += [f"Median days to {label.lower()}" for _, label, _ in STEPS[1:]]
    header += [
        f"Recovered revenue ({currency})",
        "Recovered revenue not converted",
        "Open recycled deals",
        f"Open recycled pipeline ({currency})",
        "Open recycled pipeline not converted",
    ]
    rows = (
        [
            r.label,
            *(r.count(key) for key in STEP_KEYS),
            *(round(100 * r.conversion(key), 1) for key in STEP_KEYS[1:]),
            *(_days(r.median_days.get(key)) for key in STEP_KEYS[1:]),
            _money_cell(r.recovered),
            _not_converted_cell(r.recovered),
            r.open_deals,
            _money_cell(r.open_pipeline),
            _not_converted_cell(r.open_pipeline),
        ]
        for r in [report.overall, *report.campaigns]
    )
    return csv_response(f"funnel_{period}.csv", header, rows)


def _step_or_404(step: str) -> str:
    if step not in DRILL_STEPS:
        abort(404)
    return step


@routes.get("/reports/funnel/<step>")
@roles_required(*READERS)
def funnel_step(step: str):
    step = _step_or_404(step)
    filters, errors, campaign_id = _funnel_args()
    deals = step_deals(step, filters.start, filters.end, campaign_id=campaign_id)
    args = {**filters.args(), **({"campaign": campaign_id} if campaign_id else {})}
    return render_template(
        "reports/funnel_step.html",
        step=step,
        label="Open recycled pipeline" if step == OPEN_PIPELINE else STEP_LABELS[step],
        deals=deals,
        filters=filters,
        errors=errors,
        args=args,
        currency=reporting_currency(),
    ), 400 if errors else 200


@routes.get("/reports/funnel/<step>.csv")
@roles_required(*READERS)
def funnel_step_csv(step: str):
    step = _step_or_404(step)
    filters, errors, campaign_id = _funnel_args()
    refuse_bad_filters(errors)
    deals = step_deals(step, filters.start, filters.end, campaign_id=campaign_id)
    currency = reporting_currency()
    header = [
        "Opportunity",
        "Account",
        "Owner",
        "Campaign",
        "Date",
        "Amount",
        "Currency",
        f"Amount ({currency})",
    ]
    rows = (
        [
            d.name,
            d.account_name,
            d.owner,
            d.campaign,
            d.when.isoformat() if d.when else "",
            d.amount,
            d.currency,
            converted_cell(d),
        ]
        for d in deals
    )
    return csv_response(f"funnel-{step}_{_period_name(filters)}.csv", header, rows)


# --- Competitors -------------------------------------------------------------------------------------


@routes.get("/reports/competitors")
@roles_required(*READERS)
def competitors():
    filters, errors = _filters()
    report = competitors_report(filters)
    bars, height = horizontal_bars(
        (
            row.name,
            row.deals,
            f"{row.deals} deal{'s' if row.deals != 1 else ''}, "
            f"{format_money(row.money.total, report.currency)}",
            url_for("reports.competitor_detail", competitor_id=row.competitor_id, **filters.args()),
        )
        for row in report.rows
    )
    return render_template(
        "reports/competitors.html",
        report=report,
        filters=filters,
        errors=errors,
        choices=filter_choices(),
        bars=bars,
        bars_height=height,
    ), 400 if errors else 200


@routes.get("/reports/competitors.csv")
@roles_required(*READERS)
def competitors_csv():
    filters, errors = _filters()
    refuse_bad_filters(errors)
    report = competitors_report(filters)
    header = [
        "Competitor",
        "Deals lost",
        f"Amount ({report.currency})",
        "Amount not converted",
        "Main reasons (deals)",
        "Customers who rated them",
        "Average rating (1-5)",
        f"Unhappy (rated {report.unhappy_max} or less)",
        "Requalified",
        "Accepted by sales",
        "Won back",
    ]
    rows = (
        [
            r.name,
            r.deals,
            _money_cell(r.money),
            _not_converted_cell(r.money),
            "; ".join(f"{reason.label} ({reason.deals})" for reason in r.reasons),
            r.rated,
            "" if r.average_rating is None else round(r.average_rating, 2),
            r.unhappy,
            r.requalified,
            r.accepted,
            r.won,
        ]
        for r in report.rows
    )
    return csv_response(f"competitors_{_period_name(filters)}.csv", header, rows)


@routes.get("/reports/competitors/<int:competitor_id>")
@roles_required(*READERS)
def competitor_detail(competitor_id: int):
    competitor = db.get_or_404(Competitor, competitor_id)
    filters, errors = _filters()
    return render_template(
        "reports/competitor_detail.html",
        competitor=competitor,
        deals=competitor_deals(filters, competitor),
        filters=filters,
        errors=errors,
        currency=reporting_currency(),
    ), 400 if errors else 200


@routes.get("/reports/competitors/<int:competitor_id>.csv")
@roles_required(*READERS)
def competitor_detail_csv(competitor_id: int):
    competitor = db.get_or_404(Competitor, competitor_id)
    filters, errors = _filters()
    refuse_bad_filters(errors)
    currency = reporting_currency()
    header = [*deal_header(currency), "Customer's main reason", "Rating of the competitor", "Came back"]
    rows = (
        [*deal_cells(d), d.main_reason, d.rating, d.came_back] for d in competitor_deals(filters, competitor)
    )
    return csv_response(f"competitor-{competitor.id}_{_period_name(filters)}.csv", header, rows)


# --- Sales follow-up ---------------------------------------------------------------------------------


@routes.get("/reports/sales-follow-up")
@roles_required(*READERS)
def sales_follow_up():
    filters, errors = _filters()
    report = sales_follow_up_report(filters.start, filters.end)
    bars, height = horizontal_bars(
        (
            row.manager,
            row.compliance or 0,
            f"{row.compliance:.0%} on time ({row.on_time} of {row.decided})"
            if row.decided
            else "no decision",
            None,
        )
        for row in report.managers
    )
    return render_template(
        "reports/sales_follow_up.html",
        report=report,
        filters=filters,
        errors=errors,
        bars=bars,
        bars_height=height,
        reject_reasons=REJECT_REASONS,
    ), 400 if errors else 200


@routes.get("/reports/sales-follow-up.csv")
@roles_required(*READERS)
def sales_follow_up_csv():
    filters, errors = _filters()
    refuse_bad_filters(errors)
    report = sales_follow_up_report(filters.start, filters.end)
    period = _period_name(filters)
    if request.args.get("table") == "reasons":
        managers = report.managers
        header = ["Rejection reason", *(m.manager for m in managers), "All managers"]
        rows = (
            [label, *(report.by_manager_reason.get((m.reviewer_id, key), 0) for m in managers), count]
            for key, label, count in report.reasons
        )
        return csv_response(f"sales-follow-up-rejections_{period}.csv", header, rows)
    header = [
        "Sales manager",
        "Month",
        "Decided",
        "On time",
        "On time (%)",
        "Accepted",
        "Rejected",
        "Deferred",
        "First touch on time",
        "Median days to decision",
    ]
    by_month = request.args.get("table") == "months"
    source = report.months if by_month else [*report.managers, report.total]
    rows = (
        [
            r.manager,
            f"{r.month:%Y-%m}" if r.month else "whole period",
            r.decided,
            r.on_time,
            "" if r.compliance is None else round(100 * r.compliance, 1),
            r.accepted,
            r.rejected,
            r.deferred,
            r.touched_on_time,
            _days(r.median_days),
        ]
        for r in source
    )
    name = "sales-follow-up-months" if by_month else "sales-follow-up"
    return csv_response(f"{name}_{period}.csv", header, rows)
