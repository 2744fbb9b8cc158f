"""Responses for analysts: per-question summaries, the invitation funnel, drop-off, exports."""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.crm.models import Contact
from app.downloads import csv_text, safe_cell
from app.extensions import db
from app.validation import strip_control_characters
from surveys.kinds import QuestionSummary, kind_of
from surveys.models import (
    Answer,
    Invitation,
    Question,
    Response,
    ResponseStatus,
    Survey,
    SurveyVersion,
)
from surveys.responding import stored_values, visible_pages


def responses_for(versions: SurveyVersion | Iterable[SurveyVersion]) -> list[Response]:
    """The responses to one version, or to several (a survey's versions), newest first."""
    if isinstance(versions, SurveyVersion):
        versions = [versions]
    version_ids = [version.id for version in versions]
    return list(
        db.session.scalars(
            select(Response)
            .where(Response.version_id.in_(version_ids))
            .options(
                selectinload(Response.answers),
                selectinload(Response.contact).selectinload(Contact.account),
                selectinload(Response.opportunity),
            )
            .order_by(Response.started_at.desc(), Response.id.desc())
        )
    )


def answer_text(question: Question, answer: Answer | None) -> str:
    """An answer as a person reads it: option labels, not ids."""
    if answer is None:
        return ""
    return kind_of(question).answer_text(question, answer)


def summarise(version: SurveyVersion, responses: list[Response]) -> list[QuestionSummary]:
    """Each question's summary (by its kind) and how many incomplete responses stopped there."""
    summaries = []
    for question in version.questions:
        answers = [r.answers_by_question().get(question.id) for r in responses]
        given = [a for a in answers if a is not None]
        summaries.append(kind_of(question).summarise(question, given))
    _drop_off(version, responses, summaries)
    return summaries


def _drop_off(version: SurveyVersion, responses: list[Response], summaries: list[QuestionSummary]) -> None:
    """For incomplete responses: the first question after the last one answered (where they stopped)."""
    by_id = {s.question.id: s for s in summaries}
    for response in responses:
        if response.status is ResponseStatus.COMPLETE:
            continue
        values = stored_values(response)
        shown = [q for _, questions in visible_pages(version, values) for q in questions]
        answered = [index for index, q in enumerate(shown) if q.id in values]
        after = (answered[-1] + 1) if answered else 0
        if after < len(shown):
            by_id[shown[after].id].drop_off += 1


@dataclass
class Funnel:
    channel: str
    invited: int = 0
    sent: int = 0
    opened: int = 0
    started: int = 0
    completed: int = 0


def funnel(survey: Survey) -> list[Funnel]:
    """Invitations of every version of the survey: sent, opened, started, completed, by channel."""
    version_ids = [v.id for v in survey.versions]
    rows: dict[str, Funnel] = {}
    total = Funnel("all")
    if version_ids:
        for invitation in db.session.scalars(
            select(Invitation).where(Invitation.version_id.in_(version_ids))
        ):
            for entry in (rows.setdefault(invitation.channel.value, Funnel(invitation.channel.value)), total):
                entry.invited += 1
                entry.sent += invitation.sent_at is not None
                entry.opened += invitation.opened_at is not None
                entry.started += invitation.started_at is not None
                entry.completed += invitation.completed_at is not None
    return [*sorted(rows.values(), key=lambda f: f.channel), total]


BASE_COLUMNS = [
    "response_id",
    "version",
    "channel",
    "status",
    "contact",
    "company",
    "started_at",
    "completed_at",
]
# Optional (personal data and CRM keys): asked for with contact_columns=True.
CONTACT_COLUMNS = ["contact_email", "contact_crm_id", "account_crm_id", "opportunity_crm_id"]


def _columns(versions: list[SurveyVersion]) -> list[tuple[str, dict[int, Question]]]:
    """One column per question across versions: a question kept word for word shares its column.

    Newest version first (its order and numbering), then questions only older versions asked.
    Returns (header, {version id: question}) per column.
    """
    columns: list[tuple[str, dict[int, Question]]] = []
    by_text: dict[tuple[str, str], dict[int, Question]] = {}
    newest = versions[0].number if versions else 0
    for version in versions:
        for question in version.questions:
            key = (question.kind.value, question.text.strip())
            column = by_text.get(key)
            if column is None or version.id in column:
                column = {}
                by_text[key] = column
                prefix = "" if version.number == newest else f"v{version.number} "
                columns.append((f"{prefix}Q{question.position}. {question.text}", column))
            column[version.id] = question
    return columns


def export_rows(
    versions: SurveyVersion | list[SurveyVersion], *, contact_columns: bool = False
) -> tuple[list[str], list[list[Any]]]:
    """One row per response of these versions (newest first), a version column, option labels not ids."""
    if isinstance(versions, SurveyVersion):
        versions = [versions]
    versions = sorted(versions, key=lambda version: version.number, reverse=True)
    numbers = {version.id: version.number for version in versions}
    columns = _columns(versions)
    headers = BASE_COLUMNS + (CONTACT_COLUMNS if contact_columns else []) + [header for header, _ in columns]
    rows = []
    for response in responses_for(versions):
        answers = response.answers_by_question()
        contact = response.contact
        account = contact.account if contact else None
        row: list[Any] = [
            response.id,
            numbers[response.version_id],
            response.channel.value,
            response.status.value,
            contact.full_name if contact else "",
            account.name if account else "",
            response.started_at.isoformat(),
            response.completed_at.isoformat() if response.completed_at else "",
        ]
        if contact_columns:
            opportunity = response.opportunity
            row += [
                (contact.email or "") if contact else "",
                (contact.crm_id or "") if contact else "",
                (account.crm_id or "") if account else "",
                (opportunity.crm_id or "") if opportunity else "",
            ]
        for _header, questions in columns:
            question = questions.get(response.version_id)
            row.append(answer_text(question, answers.get(question.id)) if question else "")
        rows.append(row)
    return headers, rows


def _printable(value: Any) -> Any:
    """Answers stored before control characters were stripped at input would make openpyxl refuse the file."""
    return strip_control_characters(value) if isinstance(value, str) else value


def _safe_cell(value: Any) -> Any:
    return safe_cell(_printable(value))


def export_csv(versions: SurveyVersion | list[SurveyVersion], *, contact_columns: bool = False) -> str:
    headers, rows = export_rows(versions, contact_columns=contact_columns)
    return csv_text(headers, ([_printable(cell) for cell in row] for row in rows))


def export_xlsx(versions: SurveyVersion | list[SurveyVersion], *, contact_columns: bool = False) -> bytes:
    # Imported here: openpyxl takes about 30 MB of memory, which only a process writing a workbook needs.
    from openpyxl import Workbook

    headers, rows = export_rows(versions, contact_columns=contact_columns)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Responses"
    sheet.append([_safe_cell(cell) for cell in headers])
    for row in rows:
        sheet.append([_safe_cell(cell) for cell in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _questions_json(version: SurveyVersion) -> list[dict[str, Any]]:
    return [
        {
            "id": q.id,
            "position": q.position,
            "kind": q.kind.value,
            "text": q.text,
            "options": [{"value": o.value, "label": o.label} for o in q.options],
        }
        for q in version.questions
    ]


def export_json(
    versions: SurveyVersion | list[SurveyVersion], *, contact_columns: bool = False
) -> dict[str, Any]:
    """The responses of these versions; top-level version, title and questions are the newest one's."""
    if isinstance(versions, SurveyVersion):
        versions = [versions]
    versions = sorted(versions, key=lambda version: version.number, reverse=True)
    by_id = {version.id: version for version in versions}
    questions = {q.id: q for version in versions for q in version.questions}
    responses = []
    for response in responses_for(versions):
        answers = response.answers_by_question()
        item: dict[str, Any] = {
            "id": response.id,
            "version": by_id[response.version_id].number,
            "channel": response.channel.value,
            "status": response.status.value,
            "contact_id": response.contact_id,
            "opportunity_id": response.opportunity_id,
            "started_at": response.started_at.isoformat(),
            "completed_at": response.completed_at.isoformat() if response.completed_at else None,
            "answers": {
                str(question_id): {
                    "text": answer_text(questions[question_id], answer),
                    "choices": answer.choices,
                    "number": answer.number,
                }
                for question_id, answer in answers.items()
                if question_id in questions
            },
        }
        if contact_columns:
            contact, opportunity = response.contact, response.opportunity
            account = contact.account if contact else None
            item["contact_email"] = contact.email if contact else None
            item["contact_crm_id"] = contact.crm_id if contact else None
            item["account_crm_id"] = account.crm_id if account else None
            item["opportunity_crm_id"] = opportunity.crm_id if opportunity else None
        responses.append(item)
    newest = versions[0]
    return {
        "survey": newest.survey.name,
        "version": newest.number,
        "title": newest.title,
        "questions": _questions_json(newest),
        "versions": [
            {"number": v.number, "status": v.status.value, "title": v.title, "questions": _questions_json(v)}
            for v in versions
        ],
        "responses": responses,
    }
