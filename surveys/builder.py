"""Build surveys: questions, options and logic on a draft version; publishing freezes it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from app.codebook.models import ReasonCode
from app.errors import ValidationError
from app.extensions import db
from surveys import cache
from surveys.kinds import kind_of
from surveys.models import (
    Option,
    Question,
    QuestionKind,
    Response,
    Signal,
    Survey,
    SurveyVersion,
    VersionFrozen,
    VersionStatus,
)
from surveys.signals import version_published
from surveys.translations import copy_translations


@dataclass
class OptionSpec:
    label: str
    value: str | None = None
    reason_code: str | None = None  # a codebook code such as "price.too_high"
    weight: int = 0


@dataclass
class QuestionSpec:
    kind: QuestionKind
    text: str
    page: int = 1
    help_text: str | None = None
    required: bool = False
    allow_other: bool = False
    signal: Signal | None = None
    options: list[OptionSpec] = field(default_factory=list)
    coded: bool | None = None  # None: what guess_coded says
    feeds_competitor: bool = False  # the answer names the vendor chosen instead
    show_if_position: int | None = None  # position of the earlier question in the same version
    show_if_value: str | None = None


def slugify(label: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
    return slug[:100] or "option"


_CONTACT_WORDS = ("email", "e-mail", "phone", "mobile", "address", "your name", "contact details", "linkedin")


def guess_coded(spec: QuestionSpec) -> bool:
    """Free-text reason questions are coded; questions asking for contact details are not."""
    folded = spec.text.lower()
    return not spec.feeds_competitor and not any(word in folded for word in _CONTACT_WORDS)


def create_survey(
    name: str, *, title: str, now: datetime, introduction: str = "", thank_you: str = ""
) -> Survey:
    if not name.strip() or not title.strip():
        raise ValidationError("A survey needs a name and a title.", field="name")
    survey = Survey(name=name.strip(), created_at=now)
    survey.versions.append(
        SurveyVersion(
            number=1,
            status=VersionStatus.DRAFT,
            title=title.strip(),
            introduction=introduction.strip(),
            thank_you=thank_you.strip() or "Thank you for your time. Your answers were saved.",
            created_at=now,
        )
    )
    db.session.add(survey)
    db.session.flush()
    return survey


def has_responses(version: SurveyVersion) -> bool:
    return bool(
        db.session.scalar(select(func.count()).select_from(Response).where(Response.version_id == version.id))
    )


def editable_version(survey: Survey, *, now: datetime) -> SurveyVersion:
    """The version edits go to: the draft, else a new draft copied from the published version.

    Publishing freezes a version for good (invitations and cached pages point to it), so a live
    version is never edited in place, with or without responses.
    """
    if survey.draft is not None:
        return survey.draft
    published = survey.published
    if published is None:
        raise VersionFrozen("This survey has no version that can be edited.")
    return copy_to_draft(published, now=now)


def copy_to_draft(source: SurveyVersion, *, now: datetime) -> SurveyVersion:
    """A new draft with the same content; the published version stays as it was."""
    survey = source.survey
    number = max(version.number for version in survey.versions) + 1
    draft = SurveyVersion(
        survey=survey,
        number=number,
        status=VersionStatus.DRAFT,
        title=source.title,
        introduction=source.introduction,
        thank_you=source.thank_you,
        created_at=now,
    )
    db.session.add(draft)
    copies: dict[int, Question] = {}
    for question in source.questions:
        copy = Question(
            position=question.position,
            page=question.page,
            kind=question.kind,
            text=question.text,
            help_text=question.help_text,
            required=question.required,
            allow_other=question.allow_other,
            signal=question.signal,
            coded=question.coded,
            feeds_competitor=question.feeds_competitor,
            show_if_value=question.show_if_value,
            options=[
                Option(
                    position=option.position,
                    value=option.value,
                    label=option.label,
                    reason_code_id=option.reason_code_id,
                    requalification_weight=option.requalification_weight,
                )
                for option in question.options
            ],
        )
        copies[question.id] = copy
        draft.questions.append(copy)
    for question in source.questions:
        if question.show_if_question_id is not None:
            copies[question.id].show_if_question = copies[question.show_if_question_id]
    db.session.flush()
    copy_translations(source, draft, {old: new.id for old, new in copies.items()})
    return draft


def _ensure_draft_editable(version: SurveyVersion) -> None:
    if version.status is not VersionStatus.DRAFT:
        raise VersionFrozen("A published version is frozen: edit a new draft instead.")


def _reason_code_id(code: str | None) -> int | None:
    if not code:
        return None
    found = db.session.execute(
        select(ReasonCode.id, ReasonCode.active).where(ReasonCode.code == code.strip())
    ).first()
    if found is None:
        raise ValidationError(f"No reason code “{code}” in the codebook.", field="options")
    if not found.active:
        raise ValidationError(
            f"The reason code “{code.strip()}” is retired: map the option to an active code.", field="options"
        )
    return found.id


def _apply(question: Question, spec: QuestionSpec, version: SurveyVersion) -> None:
    if not spec.text.strip():
        raise ValidationError("A question needs its text.", field="text")
    if spec.page < 1:
        raise ValidationError("Pages are numbered from 1.", field="page")
    question.kind = spec.kind
    question.text = spec.text.strip()
    question.page = spec.page
    question.help_text = (spec.help_text or "").strip() or None
    question.required = spec.required
    question.allow_other = spec.allow_other and spec.kind is QuestionKind.MULTIPLE
    question.signal = spec.signal
    _apply_coding(question, spec)
    if spec.kind.has_options:
        if len(spec.options) < 2:
            raise ValidationError("A choice question needs at least two options.", field="options")
        values = [option.value or slugify(option.label) for option in spec.options]
        if len(set(values)) != len(values):
            raise ValidationError("Two options have the same label.", field="options")
        kept = {option.value: option for option in question.options if option.value in values}
        for option in list(question.options):
            if option.value not in kept:
                question.options.remove(option)
        for option in kept.values():  # out of the way of the (question, position) unique constraint
            option.position += 10_000
        db.session.flush()
        for position, (option_spec, value) in enumerate(zip(spec.options, values, strict=True), start=1):
            option = kept.get(value)
            if option is None:
                option = Option(value=value)
                question.options.append(option)
            option.position = position
            option.label = option_spec.label.strip()
            option.reason_code_id = _reason_code_id(option_spec.reason_code)
            option.requalification_weight = option_spec.weight
        question.options.sort(key=lambda option: option.position)
    else:
        question.options = []
    if spec.show_if_position is not None:
        earlier = next((q for q in version.questions if q.position == spec.show_if_position), None)
        if earlier is None or earlier is question:
            raise ValidationError("“Show only if” must point to another question.", field="show_if")
        if earlier.page >= spec.page:
            raise ValidationError(
                "“Show only if” must point to a question on an earlier page.", field="show_if"
            )
        if not spec.show_if_value:
            raise ValidationError("Say which answer shows this question.", field="show_if_value")
        question.show_if_question = earlier
        question.show_if_value = spec.show_if_value.strip()
    else:
        question.show_if_question = None
        question.show_if_value = None


def _apply_coding(question: Question, spec: QuestionSpec) -> None:
    """Only answers with text can be coded or name a vendor; a vendor name is never coded."""
    kind = kind_of(question)
    question.feeds_competitor = spec.feeds_competitor
    if spec.feeds_competitor and not kind.names_vendor:
        raise ValidationError(
            "Only a short-text question can name the vendor chosen.", field="feeds_competitor"
        )
    coded = guess_coded(spec) if spec.coded is None else spec.coded
    question.coded = coded and not spec.feeds_competitor and kind.codable(question)


def add_question(version: SurveyVersion, spec: QuestionSpec) -> Question:
    _ensure_draft_editable(version)
    position = max((q.position for q in version.questions), default=0) + 1
    question = Question(position=position, kind=spec.kind, text="")
    version.questions.append(question)
    _apply(question, spec, version)
    db.session.flush()
    return question


def update_question(question: Question, spec: QuestionSpec) -> Question:
    _ensure_draft_editable(question.version)
    _apply(question, spec, question.version)
    db.session.flush()
    return question


def delete_question(question: Question) -> None:
    version = question.version
    _ensure_draft_editable(version)
    for other in version.questions:
        if other.show_if_question_id == question.id:
            other.show_if_question = None
            other.show_if_value = None
    version.questions.remove(question)
    db.session.flush()
    _renumber(version)


def _renumber(version: SurveyVersion) -> None:
    # Two steps so the (version, position) unique constraint never sees a duplicate.
    ordered = sorted(version.questions, key=lambda q: q.position)
    for offset, question in enumerate(ordered, start=1):
        question.position = 10_000 + offset
    db.session.flush()
    for offset, question in enumerate(ordered, start=1):
        question.position = offset
    db.session.flush()


def move_question(question: Question, direction: int) -> None:
    """Swap with the neighbour above (-1) or below (+1); a condition never points forward."""
    version = question.version
    _ensure_draft_editable(version)
    ordered = sorted(version.questions, key=lambda q: q.position)
    index = ordered.index(question)
    target = index + direction
    if not 0 <= target < len(ordered):
        return
    other = ordered[target]
    upper, lower = (question, other) if direction < 0 else (other, question)
    if upper.show_if_question_id == lower.id:
        raise ValidationError("A question cannot move above the question its logic depends on.")
    ordered[index], ordered[target] = ordered[target], ordered[index]
    new_page = other.page
    if any(
        (q.show_if_question is question and q.page <= new_page)
        or (q is question and q.show_if_question is not None and q.show_if_question.page >= new_page)
        for q in ordered
    ):
        raise ValidationError("Logic must point to a question on an earlier page; move it to another page.")
    question.page = new_page
    for offset, item in enumerate(ordered, start=1):
        item.position = 10_000 + offset
    db.session.flush()
    for offset, item in enumerate(ordered, start=1):
        item.position = offset
    db.session.flush()


def update_texts(version: SurveyVersion, *, title: str, introduction: str, thank_you: str) -> None:
    _ensure_draft_editable(version)
    if not title.strip():
        raise ValidationError("A survey needs a title.", field="title")
    version.title = title.strip()
    version.introduction = introduction.strip()
    version.thank_you = thank_you.strip()
    db.session.flush()


def publish(version: SurveyVersion, *, now: datetime) -> SurveyVersion:
    """Freeze the draft and make it live; the version it replaces is retired (its responses stay)."""
    if not version.questions:
        raise ValidationError("Add at least one question before publishing.")
    if version.status is VersionStatus.PUBLISHED:
        return version
    current = version.survey.published
    if current is not None:
        current.retire()
        db.session.flush()
    version.publish(now)
    db.session.flush()
    cache.clear()  # status changes; other processes never cached the draft, so they need nothing
    version_published.send(version, previous=current, now=now)
    return version


def build_version(version: SurveyVersion, specs: list[QuestionSpec]) -> None:
    """Add many questions at once (templates, tests); show_if_position counts from 1 in `specs`."""
    for spec in specs:
        add_question(version, spec)
