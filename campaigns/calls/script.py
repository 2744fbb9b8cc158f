"""The campaign's survey as the call script: answers saved as a phone-channel response as the caller types."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.auth.models import User
from app.errors import ValidationError
from app.extensions import db
from campaigns.calls.models import CallTask
from surveys.models import Response, ResponseChannel, ResponseStatus
from surveys.responding import (
    FormData,
    complete_response,
    missing_answers,
    record_phone_response,
    stored_values,
    visible_pages,
)
from surveys.view_helpers import page_context


def task_response(task: CallTask) -> Response | None:
    if task.response_id is None:
        return None
    return db.session.get(Response, task.response_id)


def save_script(task: CallTask, caller: User, form: FormData, *, now: datetime) -> dict[int, str]:
    """Store every answer given so far (required or not); return {question id: error} for refused ones."""
    version = task.campaign.survey_version
    if version is None:
        return {}
    response = task_response(task)
    if response is not None and response.status is not ResponseStatus.IN_PROGRESS:
        return {}
    enrollment = task.enrollment
    invitation = enrollment.invitation
    if invitation is not None and invitation.version_id != version.id:
        invitation = None
    response, errors = record_phone_response(
        version,
        form,
        caller=caller,
        now=now,
        contact=task.contact,
        opportunity=enrollment.opportunity,
        invitation=invitation,
        complete=False,
        response=response,
    )
    task.response_id = response.id
    return errors


def complete_script(task: CallTask, *, now: datetime) -> None:
    """The interview is done: the response is complete, or the caller is told which answers are missing."""
    response = task_response(task)
    if response is None or response.status is not ResponseStatus.IN_PROGRESS:
        return
    missing = missing_answers(response)
    if missing is not None:
        raise ValidationError(
            f"The interview is not complete: {len(missing[1])} required answer(s) missing.", field="script"
        )
    complete_response(response, now=now)


def script_html(task: CallTask, errors: dict[int, str] | None = None, form: Any = None) -> Markup:
    """Every visible page of the script, with the answers stored so far."""
    version = task.campaign.survey_version
    if version is None:
        return Markup("")
    response = task_response(task)
    values = stored_values(response) if response else {}
    parts = []
    for number, _ in visible_pages(version, values):
        context = page_context(version, response, number, errors=errors or {}, values=values, form=form)
        parts.append(context["questions_html"])
    return Markup("").join(parts)


def web_answers(task: CallTask) -> list[Response]:
    """The contact's own answers on the web, in any survey."""
    return list(
        db.session.scalars(
            select(Response)
            .where(Response.contact_id == task.contact_id, Response.channel == ResponseChannel.WEB)
            .options(selectinload(Response.answers))
            .order_by(Response.started_at)
        )
    )
