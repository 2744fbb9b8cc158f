"""Published versions are frozen, so each app keeps their questions in memory as frozen dataclasses.

The respondent pages then cost one query for the invitation and its answers, instead of loading
questions and options on every request. The copies are immutable plain values (no ORM objects, no
session), so threads can share them safely. Drafts are never cached (only previews show them).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.extensions import db
from surveys.models import Question, QuestionKind, Signal, SurveyVersion, VersionStatus

_EXTENSION = "surveys.frozen_versions"


@dataclass(frozen=True, eq=False)  # eq=False: hashed by identity, so layouts can be cached per question
class FrozenOption:
    id: int
    position: int
    value: str
    label: str
    reason_code_id: int | None
    requalification_weight: int


@dataclass(frozen=True, eq=False)
class FrozenQuestion:
    """The read-only view of a Question that answering and rendering need (same attribute names)."""

    id: int
    version_id: int
    position: int
    page: int
    kind: QuestionKind
    text: str
    help_text: str | None
    required: bool
    allow_other: bool
    signal: Signal | None
    coded: bool
    feeds_competitor: bool
    show_if_question_id: int | None
    show_if_value: str | None
    options: tuple[FrozenOption, ...]

    html_id = Question.html_id
    option_by_value = Question.option_by_value


@dataclass(frozen=True, eq=False)
class FrozenVersion:
    """The read-only view of a published or retired SurveyVersion with its questions, in order."""

    id: int
    survey_id: int
    number: int
    status: VersionStatus
    title: str
    introduction: str
    thank_you: str
    published_at: datetime | None
    questions: tuple[FrozenQuestion, ...]

    is_frozen = True
    pages = SurveyVersion.pages


def freeze(version: SurveyVersion) -> FrozenVersion:
    """An immutable copy of a version with its questions and options (loaded)."""
    return FrozenVersion(
        id=version.id,
        survey_id=version.survey_id,
        number=version.number,
        status=version.status,
        title=version.title,
        introduction=version.introduction or "",
        thank_you=version.thank_you or "",
        published_at=version.published_at,
        questions=tuple(
            FrozenQuestion(
                id=q.id,
                version_id=q.version_id,
                position=q.position,
                page=q.page,
                kind=q.kind,
                text=q.text,
                help_text=q.help_text,
                required=q.required,
                allow_other=q.allow_other,
                signal=q.signal,
                coded=q.coded,
                feeds_competitor=q.feeds_competitor,
                show_if_question_id=q.show_if_question_id,
                show_if_value=q.show_if_value,
                options=tuple(
                    FrozenOption(
                        id=o.id,
                        position=o.position,
                        value=o.value,
                        label=o.label,
                        reason_code_id=o.reason_code_id,
                        requalification_weight=o.requalification_weight,
                    )
                    for o in q.options
                ),
            )
            for q in version.questions
        ),
    )


class _Store:
    """The app's frozen versions by id (state on the app: every app has its own)."""

    def __init__(self) -> None:
        self.versions: dict[int, FrozenVersion] = {}
        self.lock = threading.Lock()


def _store() -> _Store:
    store = current_app.extensions.get(_EXTENSION)
    if store is None:
        store = current_app.extensions.setdefault(_EXTENSION, _Store())
    return store


def frozen_version(version_id: int) -> FrozenVersion | SurveyVersion:
    """The version with its questions and options: a shared frozen copy, or the session's draft."""
    store = _store()
    cached = store.versions.get(version_id)
    if cached is not None:
        return cached
    with Session(db.engine) as session:
        version = session.scalars(
            select(SurveyVersion)
            .where(SurveyVersion.id == version_id)
            .options(selectinload(SurveyVersion.questions).selectinload(Question.options))
        ).one()
        if version.status is VersionStatus.DRAFT:
            return db.session.get(SurveyVersion, version_id)
        frozen = freeze(version)
    with store.lock:
        return store.versions.setdefault(version_id, frozen)


def peek(version_id: int) -> FrozenVersion | None:
    return _store().versions.get(version_id)


def clear() -> None:
    store = _store()
    with store.lock:
        store.versions.clear()
