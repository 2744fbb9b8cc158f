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
from surveys.translations import complete_languages, translation_for

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
    language: str = "en"  # the language of its texts
    languages: tuple[str, ...] = ("en",)  # the languages it can be answered in, its source language first

    is_frozen = True
    pages = SurveyVersion.pages


def freeze(version: SurveyVersion, language: str | None = None) -> FrozenVersion:
    """An immutable copy of a version with its questions and options (loaded), in `language` if translated.

    A language the version has no full translation for gives the source language's texts.
    """
    languages = tuple(complete_languages(version))
    if language not in languages:
        language = languages[0]
    translation = translation_for(version, language)
    texts = (translation.texts or {}) if translation and language != languages[0] else {}

    def tr(key: str, source: str | None) -> str | None:
        return texts.get(key) or source

    return FrozenVersion(
        id=version.id,
        survey_id=version.survey_id,
        number=version.number,
        status=version.status,
        title=tr("title", version.title) or "",
        introduction=tr("introduction", version.introduction) or "",
        thank_you=tr("thank_you", version.thank_you) or "",
        published_at=version.published_at,
        questions=tuple(
            FrozenQuestion(
                id=q.id,
                version_id=q.version_id,
                position=q.position,
                page=q.page,
                kind=q.kind,
                text=tr(f"q{q.id}.text", q.text) or "",
                help_text=tr(f"q{q.id}.help", q.help_text),
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
                        label=tr(f"q{q.id}.option.{o.value}", o.label) or "",
                        reason_code_id=o.reason_code_id,
                        requalification_weight=o.requalification_weight,
                    )
                    for o in q.options
                ),
            )
            for q in version.questions
        ),
        language=language,
        languages=languages,
    )


class _Store:
    """The app's frozen versions by id (state on the app: every app has its own)."""

    def __init__(self) -> None:
        self.versions: dict[int, FrozenVersion] = {}  # in the source language
        self.translated: dict[tuple[int, str], FrozenVersion] = {}
        self.messages: dict[tuple[int, str], dict[str, str]] = {}
        self.languages: dict[int, tuple[str, ...]] = {}
        self.lock = threading.Lock()


def _store() -> _Store:
    store = current_app.extensions.get(_EXTENSION)
    if store is None:
        store = current_app.extensions.setdefault(_EXTENSION, _Store())
    return store


def _load(session: Session, version_id: int) -> SurveyVersion:
    return session.scalars(
        select(SurveyVersion)
        .where(SurveyVersion.id == version_id)
        .options(
            selectinload(SurveyVersion.questions).selectinload(Question.options),
            selectinload(SurveyVersion.translations),
        )
    ).one()


def frozen_version(version_id: int, language: str | None = None) -> FrozenVersion | SurveyVersion:
    """The version with its questions and options: a shared frozen copy, or the session's draft.

    With `language`, the copy in that language when the version is fully translated into it (cached per
    version and language), else the source language's; a draft is then frozen for this request only.
    """
    store = _store()
    source = store.versions.get(version_id)
    if source is not None and (language is None or language == source.language):
        return source
    if source is not None and language not in source.languages:
        return source
    if source is not None:
        cached = store.translated.get((version_id, language))
        if cached is not None:
            return cached
    with Session(db.engine) as session:
        version = _load(session, version_id)
        if version.status is VersionStatus.DRAFT:
            if language is None:
                return db.session.get(SurveyVersion, version_id)
            return freeze(version, language)
        frozen = freeze(version)
        translated = freeze(version, language) if language in frozen.languages[1:] else None
    with store.lock:
        frozen = store.versions.setdefault(version_id, frozen)
        if translated is None:
            return frozen
        return store.translated.setdefault((version_id, translated.language), translated)


def version_languages(version: SurveyVersion) -> tuple[str, ...]:
    """The languages a version can be answered in (its own first); remembered for frozen versions."""
    if version.status is VersionStatus.DRAFT:
        return tuple(complete_languages(version))
    store = _store()
    cached = store.languages.get(version.id)
    if cached is None:
        with store.lock:
            cached = store.languages.setdefault(version.id, tuple(complete_languages(version)))
    return cached


def translated_messages(version: SurveyVersion, language: str) -> dict[str, str]:
    """The invitation words (message.* keys) of a version's full translation into `language`, else {}."""
    if language not in version_languages(version)[1:]:
        return {}
    store = _store()
    key = (version.id, language)
    cached = store.messages.get(key)
    if cached is not None:
        return cached
    translation = translation_for(version, language)
    texts = {k: v for k, v in (translation.texts or {}).items() if k.startswith("message.")}
    if version.status is VersionStatus.DRAFT:
        return texts
    with store.lock:
        return store.messages.setdefault(key, texts)


def is_shared(version: object) -> bool:
    """Whether `version` is this app's shared frozen copy (of a published version, in some language):
    the same object until the next publish clears the cache."""
    store = _store()
    version_id, language = getattr(version, "id", None), getattr(version, "language", None)
    if store.versions.get(version_id) is version:
        return True
    return store.translated.get((version_id, language)) is version


def peek(version_id: int) -> FrozenVersion | None:
    return _store().versions.get(version_id)


def clear() -> None:
    store = _store()
    with store.lock:
        store.versions.clear()
        store.translated.clear()
        store.messages.clear()
        store.languages.clear()
