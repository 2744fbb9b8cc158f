"""Surveys: definitions, versions, invitations, respondent pages and responses."""

from __future__ import annotations

from flask import Flask

MENU = (("Surveys", "Surveys", "surveys.index", 8),)  # group, label, endpoint, position in the group


def init_app(app: Flask) -> None:
    """The survey builder, the respondent pages, `flask surveys`, option codes, closing stale responses."""
    from app.auth.menu import add_menu_item

    for group, label, endpoint, position in MENU:
        add_menu_item(app, group, label, endpoint, position=position)
    from app.codebook.service import register_code_references
    from app.database import commit_checkpoint
    from app.jobs import register_periodic_job
    from surveys import public, translation_views, views  # noqa: F401 (translation routes join views.bp)
    from surveys.cli import surveys_cli
    from surveys.invitations import close_stale_responses
    from surveys.models import Option

    app.register_blueprint(views.bp)
    app.register_blueprint(public.bp)
    app.cli.add_command(surveys_cli)
    register_code_references(app, Option.reason_code_id)  # an option's mapped reason
    deadline_days = app.config["SURVEY_RESPONSE_DEADLINE_DAYS"]
    register_periodic_job(
        app,
        "surveys.close_stale_responses",
        3600,
        lambda now: close_stale_responses(now=now, after_days=deadline_days, checkpoint=commit_checkpoint),
    )
