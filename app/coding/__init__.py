"""Coding answers into win/loss reasons (the insight layer): codings, workbench, suggestions, agreement."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, current_app, render_template

from app.coding.cli import coding_cli
from app.coding.signals import connect_signals
from app.coding.views import bp

__all__ = ["bp", "coding_cli", "connect_signals", "init_app"]


def retrain_job(now: datetime) -> bool:
    """Retrain after CODING_RETRAIN_EVERY new confirmations, then auto-accept where allowed."""
    from app.coding.auto_accept import retrain_if_due

    config = current_app.config
    return retrain_if_due(
        now=now,
        every=config.get("CODING_RETRAIN_EVERY", 50),
        min_precision=config.get("CODING_AUTO_ACCEPT_MIN_PRECISION", 0.9),
    )


def _opportunity_reasons_panel(opportunity) -> str:
    from app.coding.service import opportunity_reasons

    return render_template("coding/_opportunity_reasons.html", reasons=opportunity_reasons(opportunity.id))


MENU = (
    ("Coding", "Workbench", "coding.workbench", 11),
    ("Coding", "Agreement", "coding.agreement_page", 12),
    ("Coding", "Keyword rules", "coding.rules", 13),
)  # group, label, endpoint, position in the group


def _code_kappa_cell(code) -> str:
    """The codebook's agreement column: this code's Cohen's kappa between the two main coders."""
    from flask import g

    from app.coding.agreement import kappa_label, measure_agreement

    if "coding_agreement" not in g:  # measured once per page, not once per code
        g.coding_agreement = measure_agreement()
    figures = g.coding_agreement.codes.get(code.code)
    kappa = figures["kappa"] if figures else float("nan")
    return render_template(
        "coding/_code_kappa.html", kappa=kappa, reading=kappa_label(kappa), figures=figures
    )


def _code_suggestion_cells(code) -> str:
    """The codebook's suggestion columns: this code's held-out precision, recall and abstention rate at
    its threshold (app/coding/abstention.py)."""
    from flask import g
    from sqlalchemy import select

    from app.coding.models import CodeSetting
    from app.extensions import db

    if "coding_settings" not in g:  # read once per page, not once per code
        g.coding_settings = {s.reason_code_id: s for s in db.session.scalars(select(CodeSetting))}
    return render_template("coding/_code_suggestions.html", setting=g.coding_settings.get(code.id))


def init_app(app: Flask) -> None:
    """Everything coding brings: pages, `flask coding`, signals, the opportunity page's panel, retraining."""
    from app.auth.menu import add_menu_item

    for group, label, endpoint, position in MENU:
        add_menu_item(app, group, label, endpoint, position=position)
    from app.codebook.service import register_code_references
    from app.coding.models import CodeSetting, Coding, CodingRule, OpportunityReason
    from app.jobs import register_periodic_job
    from app.templating import add_panel

    app.register_blueprint(bp)
    app.cli.add_command(coding_cli)
    connect_signals()
    register_code_references(
        app,
        Coding.reason_code_id,
        CodingRule.reason_code_id,
        CodeSetting.reason_code_id,
        OpportunityReason.reason_code_id,
    )
    add_panel(app, "opportunity.reasons", _opportunity_reasons_panel)
    add_panel(app, "codebook.header", lambda _: render_template("coding/_code_kappa_header.html"))
    add_panel(app, "codebook.code", _code_kappa_cell)
    add_panel(app, "codebook.header", lambda _: render_template("coding/_code_suggestions_header.html"))
    add_panel(app, "codebook.code", _code_suggestion_cells)
    register_periodic_job(
        app, "coding.retrain", app.config.get("CODING_RETRAIN_CHECK_SECONDS", 300), retrain_job
    )
