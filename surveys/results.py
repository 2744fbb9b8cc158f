"""Responses for analysts: per-question summaries, the invitation funnel, drop-off, exports."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.validation import strip_control_characters
from surveys.models import (
    Answer,
    Invitation,
    Question,
    QuestionKind,
    Response,
    ResponseStatus,
    Survey,
    SurveyVersion,
)
from surveys.responding import OTHER, RATING_LABELS, stored_values, visible_pages


def responses_for(version: SurveyVersion) -> list[Response]:
    return list(
        db.session.scalars(
            select(Response)
            .where(Response.version_id == version.id)
            .options(selectinload(Response.answers), selectinload(Response.contact))
            .order_by(Response.started_at.desc(), Response.id.desc())
        )
    )


def answer_text(question: Question, answer: Answer | None) -> str:
    """An answer as a person reads it: option labels, not ids."""
    if answer is None:
        return ""
    kind = question.kind
    if kind.has_options:
        labels = {option.value: option.label for option in question.options}
        parts = [labels.get(choice, choice) for choice in answer.choices if choice != OTHER]
        if answer.text:
            parts.append(f"Other: {answer.text}")
        return "; ".join(parts)
    if kind is QuestionKind.YES_NO:
        return {"yes": "Yes", "no": "No"}.get(answer.choices[0], "") if answer.choices else ""
    if kind in (QuestionKind.RATING, QuestionKind.NPS):
        return "" if answer.number is None else str(answer.number)
    if kind is QuestionKind.DATE:
        return answer.date_value.isoformat() if answer.date_value else ""
    return answer.text or ""


@dataclass
class QuestionSummary:
    question: Question
    answered: int = 0
    counts: list[tuple[str, int]] = field(default_factory=list)
    average: float | None = None
    nps: int | None = None
    texts: list[str] = field(default_factory=list)
    drop_off: int = 0


def summarise(version: SurveyVersion, responses: list[Response]) -> list[QuestionSummary]:
    summaries = []
    for question in version.questions:
        answers = [r.answers_by_question().get(question.id) for r in responses]
        given = [a for a in answers if a is not None]
        summary = QuestionSummary(question, answered=len(given))
        if question.kind.has_options or question.kind is QuestionKind.YES_NO:
            counter = Counter(choice for a in given for choice in a.choices)
            if question.kind is QuestionKind.YES_NO:
                labels = [("yes", "Yes"), ("no", "No")]
            else:
                labels = [(o.value, o.label) for o in question.options]
                if question.allow_other:
                    labels.append((OTHER, "Other"))
            summary.counts = [(label, counter[value]) for value, label in labels]
            summary.texts = [a.text for a in given if a.text]
        elif question.kind in (QuestionKind.RATING, QuestionKind.NPS):
            numbers = [a.number for a in given if a.number is not None]
            low, high = (1, 5) if question.kind is QuestionKind.RATING else (0, 10)
            counter = Counter(numbers)
            summary.counts = [
                (f"{n} – {RATING_LABELS[n]}" if question.kind is QuestionKind.RATING else str(n), counter[n])
                for n in range(low, high + 1)
            ]
            if numbers:
                summary.average = round(sum(numbers) / len(numbers), 2)
                if question.kind is QuestionKind.NPS:
                    promoters = sum(1 for n in numbers if n >= 9)
                    detractors = sum(1 for n in numbers if n <= 6)
                    summary.nps = round(100 * (promoters - detractors) / len(numbers))
        else:
            summary.texts = [answer_text(question, a) for a in given][:20]
        summaries.append(summary)
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


def export_rows(version: SurveyVersion) -> tuple[list[str], list[list[Any]]]:
    """One row per response, one column per question, option labels not ids."""
    headers = BASE_COLUMNS + [f"Q{q.position}. {q.text}" for q in version.questions]
    rows = []
    for response in responses_for(version):
        answers = response.answers_by_question()
        contact = response.contact
        rows.append(
            [
                response.id,
                version.number,
                response.channel.value,
                response.status.value,
                contact.full_name if contact else "",
                contact.account.name if contact and contact.account else "",
                response.started_at.isoformat(),
                response.completed_at.isoformat() if response.completed_at else "",
            ]
            + [answer_text(q, answers.get(q.id)) for q in version.questions]
        )
    return headers, rows


def _safe_cell(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    # Answers stored before control characters were stripped at input would make openpyxl refuse
    # the whole file.
    value = strip_control_characters(value)
    # Spreadsheet formula injection: a customer's "=HYPERLINK(...)" must stay text.
    if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def export_csv(version: SurveyVersion) -> str:
    headers, rows = export_rows(version)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    writer.writerows([[_safe_cell(cell) for cell in row] for row in rows])
    return buffer.getvalue()


def export_xlsx(version: SurveyVersion) -> bytes:
    headers, rows = export_rows(version)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Responses"
    sheet.append(headers)
    for row in rows:
        sheet.append([_safe_cell(cell) for cell in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def export_json(version: SurveyVersion) -> dict[str, Any]:
    questions = [
        {
            "id": q.id,
            "position": q.position,
            "kind": q.kind.value,
            "text": q.text,
            "options": [{"value": o.value, "label": o.label} for o in q.options],
        }
        for q in version.questions
    ]
    responses = []
    for response in responses_for(version):
        answers = response.answers_by_question()
        responses.append(
            {
                "id": response.id,
                "channel": response.channel.value,
                "status": response.status.value,
                "contact_id": response.contact_id,
                "opportunity_id": response.opportunity_id,
                "started_at": response.started_at.isoformat(),
                "completed_at": response.completed_at.isoformat() if response.completed_at else None,
                "answers": {
                    str(q.id): {
                        "text": answer_text(q, answers[q.id]),
                        "choices": answers[q.id].choices,
                        "number": answers[q.id].number,
                    }
                    for q in version.questions
                    if q.id in answers
                },
            }
        )
    return {
        "survey": version.survey.name,
        "version": version.number,
        "title": version.title,
        "questions": questions,
        "responses": responses,
    }
