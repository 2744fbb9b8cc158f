"""The campaign's survey as the call script: answers saved as a phone-channel response as the caller types."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from markupsafe import Markup
from sqlalchemy import delete, select
from sqlalchemy.orm import selectinload

from app.auth.models import User
from app.errors import ValidationError
from app.extensions import db
from campaigns.calls.models import CallAttempt, CallTask
from surveys.kinds import Value, kind_of
from surveys.kinds.choices import ChoiceKind
from surveys.models import Answer, Question, Response, ResponseChannel, ResponseStatus
from surveys.responding import (
    FormData,
    complete_response,
    is_visible,
    missing_answers,
    parse_answer,
    record_phone_response,
    stored_values,
    visible_pages,
)
from surveys.view_helpers import render_question


class ScriptIncomplete(ValidationError):
    """ "Completed" with required answers missing: each one named, so the page can link to it."""

    code = "script_incomplete"

    def __init__(self, errors: dict[int, str], questions: dict[int, Question]) -> None:
        listed = "; ".join(f"“{questions[qid].text}”" for qid in errors)
        super().__init__(f"The interview is not complete: answer {listed}.", field="script")
        self.errors = errors
        # The element a link to each missing answer focuses: a choice question's fieldset, else its field.
        self.links = [(field_anchor(questions[qid]), questions[qid].text) for qid in errors]


def field_anchor(question: Question) -> str:
    """The id of a question's group (choices) or field, as its layout renders it."""
    return f"{question.html_id}-group" if isinstance(kind_of(question), ChoiceKind) else question.html_id


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
    if missing_answers(response) is not None:
        version = task.campaign.survey_version
        values = stored_values(response)
        missing = {  # every one on every page, not only the first page's: the script is one page
            q.id: "This question needs an answer."
            for _, questions in visible_pages(version, values)
            for q in questions
            if q.required and (q.id not in values or values[q.id].empty)
        }
        raise ScriptIncomplete(missing, {q.id: q for q in version.questions})
    complete_response(response, now=now)


def discard_unconnected_answers(task: CallTask, attempt: CallAttempt) -> None:
    """A call that never connected (no answer, busy, voicemail) keeps no answers typed during it.

    The answers changed since the task's previous disposition are dropped; a phone response left
    with no answer is deleted, so it never counts as a response.
    """
    response = task_response(task)
    if response is None or response.status is not ResponseStatus.IN_PROGRESS:
        return
    since = db.session.scalar(
        select(CallAttempt.disposed_at)
        .where(
            CallAttempt.task_id == task.id,
            CallAttempt.id != attempt.id,
            CallAttempt.disposed_at.is_not(None),
        )
        .order_by(CallAttempt.disposed_at.desc())
        .limit(1)
    )
    dropped = delete(Answer).where(Answer.response_id == response.id)
    if since is not None:
        dropped = dropped.where(Answer.updated_at > since)
    db.session.execute(dropped)
    db.session.expire(response, ["answers"])
    if response.channel is ResponseChannel.PHONE and not response.answers and response.invitation_id is None:
        task.response_id = None
        attempt.response_id = None
        db.session.flush()
        db.session.delete(response)
    db.session.flush()


# A constant template: format() escapes every value put into it.
_HIDDEN = Markup(" hidden")
_CONDITIONAL = Markup('<div class="script-conditional" data-show-if="q{}" data-show-if-value="{}"{}>{}</div>')


def _shown(question: Question, values: dict[int, Value], form: Any):
    kind = kind_of(question)
    return (
        kind.shown_from_form(question, form)
        if form
        else kind.shown(question, values.get(question.id, Value()))
    )


def script_html(task: CallTask, errors: dict[int, str] | None = None, form: Any = None) -> Markup:
    """Every question of the script with the answers so far; conditional ones hidden until they apply.

    Each conditional question carries its condition, so static/js/calls.js shows and hides it as
    answers change; without JS, a save re-renders the page with the stored answers deciding.
    """
    version = task.campaign.survey_version
    if version is None:
        return Markup("")
    response = task_response(task)
    values = stored_values(response) if response else {}
    if form:  # a re-render after a refused submit: what was posted decides what shows
        values = {q.id: parse_answer(q, form)[0] for q in version.questions}
    errors = errors or {}
    parts = []
    frozen = version.is_frozen
    for questions in version.pages():
        for question in questions:
            error = errors.get(question.id)
            html = render_question(question, _shown(question, values, form), error, frozen=frozen)
            if question.show_if_question_id is None or not question.show_if_value:
                parts.append(html)
                continue
            parts.append(
                _CONDITIONAL.format(
                    question.show_if_question_id,
                    question.show_if_value,
                    _HIDDEN if not is_visible(question, values) else "",
                    html,
                )
            )
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
