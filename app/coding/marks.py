"""Which answers are codable at all, and the workbench's Skip and Not codable."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.orm import aliased

from app.auth.models import User
from app.coding.models import AnswerMark, CodingAnswerMark, DoubleCodingAssignment
from app.extensions import db
from surveys.models import Answer, Question, Response, ResponseStatus

DONE_STATUSES = (ResponseStatus.COMPLETE, ResponseStatus.CLOSED)


def _marked(mark: AnswerMark, *, coder_id: int | None = None):
    clause = exists().where(CodingAnswerMark.answer_id == Answer.id, CodingAnswerMark.mark == mark)
    if coder_id is not None:
        clause = clause.where(CodingAnswerMark.coder_id == coder_id)
    return clause


def codable_answers() -> Select:
    """The ids of the answers there is something to code in: text, in a finished response, to a question
    marked coded (not vendor names, dates or contact details), and nobody said Not codable.

    The workbench queue and the double-coding sample both start from it.
    """
    return (
        select(Answer.id)
        .join(Response, Response.id == Answer.response_id)
        .join(Question, Question.id == Answer.question_id)
        .where(
            Question.coded,
            Answer.text.is_not(None),
            Answer.text != "",
            Response.status.in_(DONE_STATUSES),
            ~_marked(AnswerMark.NOT_CODABLE),
        )
    )


def skipped_by(coder_id: int):
    """The answers this coder skipped (they come back after the others)."""
    return _marked(AnswerMark.SKIPPED, coder_id=coder_id)


def oldest_skipped_first(query: Select, coder_id: int) -> Select:
    """`query` (answer ids) limited to this coder's skipped answers, the one skipped longest ago first."""
    skip = aliased(CodingAnswerMark)  # not the table the query's Not codable subquery reads
    return query.join(
        skip,
        and_(skip.answer_id == Answer.id, skip.coder_id == coder_id, skip.mark == AnswerMark.SKIPPED),
    ).order_by(skip.created_at, Answer.id)


def _mark(answer: Answer, coder: User, mark: AnswerMark, *, now: datetime) -> CodingAnswerMark:
    entry = db.session.scalar(
        select(CodingAnswerMark).where(
            CodingAnswerMark.answer_id == answer.id,
            CodingAnswerMark.coder_id == coder.id,
            CodingAnswerMark.mark == mark,
        )
    )
    if entry is None:
        entry = CodingAnswerMark(answer_id=answer.id, coder_id=coder.id, mark=mark)
        db.session.add(entry)
    entry.created_at = now
    db.session.flush()
    return entry


def skip_answer(answer: Answer, coder: User, *, now: datetime) -> CodingAnswerMark:
    """Put the answer off: this coder sees it again after every answer not skipped (skipping again
    puts it at the very end)."""
    return _mark(answer, coder, AnswerMark.SKIPPED, now=now)


def mark_not_codable(answer: Answer, coder: User, *, now: datetime) -> CodingAnswerMark:
    """The answer holds no reason: it leaves everyone's queue, double-coding assignments included."""
    entry = _mark(answer, coder, AnswerMark.NOT_CODABLE, now=now)
    for assignment in db.session.scalars(
        select(DoubleCodingAssignment).where(
            DoubleCodingAssignment.answer_id == answer.id, DoubleCodingAssignment.done_at.is_(None)
        )
    ):
        assignment.done_at = now
    db.session.flush()
    return entry


def not_codable_count() -> int:
    """How many answers a coder marked Not codable (each counted once)."""
    return (
        db.session.scalar(
            select(func.count(func.distinct(CodingAnswerMark.answer_id))).where(
                CodingAnswerMark.mark == AnswerMark.NOT_CODABLE
            )
        )
        or 0
    )
