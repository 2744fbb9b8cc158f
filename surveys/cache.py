"""Published versions are frozen, so each process keeps their questions in memory (read-only).

The respondent pages then cost one query for the invitation and one for the answers, instead of
loading questions and options on every request. Drafts are never cached (only previews show them).
"""

from __future__ import annotations

import threading

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.extensions import db
from surveys.models import Question, SurveyVersion, VersionStatus

_versions: dict[tuple[str, int], SurveyVersion] = {}
_lock = threading.Lock()


def _key(version_id: int) -> tuple[str, int]:
    return (str(db.engine.url), version_id)  # tests run several apps on different databases


def frozen_version(version_id: int) -> SurveyVersion:
    """The version with its questions and options loaded; detached and shared when it is frozen."""
    key = _key(version_id)
    cached = _versions.get(key)
    if cached is not None:
        return cached
    with Session(db.engine, expire_on_commit=False) as session:
        version = session.scalars(
            select(SurveyVersion)
            .where(SurveyVersion.id == version_id)
            .options(selectinload(SurveyVersion.questions).selectinload(Question.options))
        ).one()
        if version.status is VersionStatus.DRAFT:
            return db.session.get(SurveyVersion, version_id)
        session.expunge_all()
    with _lock:
        _versions.setdefault(key, version)
    return _versions[key]


def peek(version_id: int) -> SurveyVersion | None:
    return _versions.get(_key(version_id))


def clear() -> None:
    with _lock:
        _versions.clear()
