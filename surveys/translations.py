"""A survey version's texts in other languages: which texts there are, what is missing, CSV for translators.

Every text of a version has a key: `title`, `introduction`, `thank_you`, `q<id>.text`, `q<id>.help`,
`q<id>.option.<value>` and the invitation messages `message.*`. A translation maps keys to texts; a
language is offered to respondents only when every text the source has is translated (`is_complete`),
so a respondent never sees half a survey in one language and half in another.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

from app.downloads import csv_text, unguarded_cell
from app.errors import ValidationError
from app.extensions import db
from app.i18n.languages import LANGUAGES, default_language, language_name, normalise_language
from app.validation import strip_control_characters
from surveys.models import SurveyTranslation, SurveyVersion, VersionFrozen, VersionStatus

# The invitation's words, translated with the survey (the campaign's own words are the source language's).
MESSAGE_KEYS = {
    "message.email_subject": "Invitation email: subject",
    "message.email_text": "Invitation email: text",
    "message.reminder_subject": "Reminder email: subject",
    "message.reminder_text": "Reminder email: text",
    "message.sms_text": "Invitation and reminder SMS",
}
CSV_MAX_BYTES = 2 * 1024 * 1024
TEXT_LIMIT = 5_000


def message_sources() -> dict[str, str]:
    """The default invitation words, the source of the message.* keys."""
    from surveys.invitations import DEFAULT_TEMPLATES  # noqa: PLC0415 (invitations reads the cache)

    return {
        "message.email_subject": DEFAULT_TEMPLATES.email_subject,
        "message.email_text": DEFAULT_TEMPLATES.email_text,
        "message.reminder_subject": DEFAULT_TEMPLATES.email_subject,
        "message.reminder_text": DEFAULT_TEMPLATES.email_text,
        "message.sms_text": DEFAULT_TEMPLATES.sms_text,
    }


def source_texts(version: SurveyVersion) -> dict[str, str]:
    """Every text of the version by key, in the order a translator reads them (blank ones included)."""
    texts = {
        "title": version.title,
        "introduction": version.introduction or "",
        "thank_you": version.thank_you,
    }
    for question in version.questions:
        texts[f"q{question.id}.text"] = question.text
        texts[f"q{question.id}.help"] = question.help_text or ""
        for option in question.options:
            texts[f"q{question.id}.option.{option.value}"] = option.label
    texts.update(message_sources())
    return {key: value or "" for key, value in texts.items()}


def key_label(version: SurveyVersion, key: str) -> str:
    """What a key is, in words ("Question 3: help")."""
    if key in MESSAGE_KEYS:
        return MESSAGE_KEYS[key]
    if not key.startswith("q"):
        return {"title": "Title", "introduction": "Introduction", "thank_you": "Thank-you message"}.get(
            key, key
        )
    head, _, rest = key.partition(".")
    position = next((q.position for q in version.questions if f"q{q.id}" == head), "?")
    if rest.startswith("option."):
        return f"Question {position}: option “{rest.removeprefix('option.')}”"
    return f"Question {position}: {'help' if rest == 'help' else 'text'}"


def translation_for(version: SurveyVersion, language: str) -> SurveyTranslation | None:
    return next((t for t in version.translations if t.language == language), None)


def missing_keys(version: SurveyVersion, texts: dict[str, str]) -> list[str]:
    """The keys whose source has a text and the translation has none."""
    return [key for key, source in source_texts(version).items() if source.strip() and not texts.get(key)]


def is_complete(version: SurveyVersion, language: str) -> bool:
    """Whether respondents in `language` get the survey in it (the source language always)."""
    if language == default_language():
        return True
    translation = translation_for(version, language)
    return translation is not None and not missing_keys(version, translation.texts or {})


def complete_languages(version: SurveyVersion) -> list[str]:
    """The languages the version can be answered in: the source language first, then full translations."""
    source = default_language()
    return [source] + [
        t.language for t in version.translations if t.language != source and is_complete(version, t.language)
    ]


def _checked_language(raw: str) -> str:
    language = normalise_language(raw)
    if language is None or language not in LANGUAGES:
        raise ValidationError(f"“{raw}” is not a language surveys can be translated into.", field="language")
    if language == default_language():
        raise ValidationError(
            f"{language_name(language)} is the language the survey is written in.", field="language"
        )
    return language


def save_translation(
    version: SurveyVersion, language: str, texts: dict[str, str], *, now: datetime
) -> SurveyTranslation:
    """Store the texts given for known keys (blank ones removed); only a draft's translations change."""
    if version.status is not VersionStatus.DRAFT:
        raise VersionFrozen("A published version is frozen: translate a new draft instead.")
    language = _checked_language(language)
    known = source_texts(version)
    cleaned = {}
    for key, raw in texts.items():
        if key not in known:
            continue
        text = strip_control_characters(raw or "").strip()
        if len(text) > TEXT_LIMIT:
            raise ValidationError(f"A translated text is at most {TEXT_LIMIT} characters ({key}).", field=key)
        if text:
            cleaned[key] = text
    translation = translation_for(version, language)
    if translation is None:
        translation = SurveyTranslation(version=version, language=language, texts={})
        db.session.add(translation)
    translation.texts = cleaned
    translation.updated_at = now
    db.session.flush()
    return translation


def copy_translations(source: SurveyVersion, draft: SurveyVersion, question_ids: dict[int, int]) -> None:
    """A new draft keeps the source's translations, their question keys moved to the copied questions."""
    for translation in source.translations:
        texts = {}
        for key, text in (translation.texts or {}).items():
            head, dot, rest = key.partition(".")
            if head.startswith("q") and head[1:].isdigit() and int(head[1:]) in question_ids:
                key = f"q{question_ids[int(head[1:])]}{dot}{rest}"
            texts[key] = text
        db.session.add(SurveyTranslation(version=draft, language=translation.language, texts=texts))
    db.session.flush()


# --- CSV for translators -----------------------------------------------------------------------------


def export_csv(version: SurveyVersion, language: str) -> str:
    """key, what it is, the source text, the translation: the app's guarded CSV (UTF-8 with a BOM)."""
    language = _checked_language(language)
    translation = translation_for(version, language)
    texts = translation.texts if translation else {}
    rows = [
        [key, key_label(version, key), source, texts.get(key, "")]
        for key, source in source_texts(version).items()
        if source.strip()
    ]
    return csv_text(["key", "what", default_language(), language], rows)


def import_csv(
    version: SurveyVersion,
    language: str,
    data: bytes,
    *,
    now: datetime,
    keyed_on: SurveyVersion | None = None,
) -> int:
    """Read a translator's CSV (as exported: key first, translation last) into the draft; return how many.

    `keyed_on`: the version the file was exported from, when the draft was copied from it since.
    """
    if len(data) > CSV_MAX_BYTES:
        raise ValidationError("The file is too large for a survey translation (2 MB at most).", field="file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError("Save the file as CSV UTF-8 and upload it again.", field="file") from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or not rows[0] or rows[0][0].strip().lower() != "key" or len(rows[0]) < 2:
        raise ValidationError(
            "The first row should be the header: key, what, source, translation.", field="file"
        )
    translation = translation_for(version, normalise_language(language) or "")
    texts = dict(translation.texts) if translation else {}
    given = {row[0].strip(): unguarded_cell(row[-1].strip()) for row in rows[1:] if len(row) >= 2}
    given = rekey(given, keyed_on, version) if keyed_on is not None else given
    known = source_texts(version)
    count = 0
    for key, value in given.items():
        if key in known and value:
            texts[key] = value
            count += 1
    save_translation(version, language, texts, now=now)
    return count


def rekey(texts: dict[str, str], source: SurveyVersion, target: SurveyVersion) -> dict[str, str]:
    """Texts keyed on `source`'s questions, moved to the questions at the same positions in `target`
    (a translation entered on the live version is saved in the new draft copied from it)."""
    if source.id == target.id:
        return texts
    by_position = {question.position: question.id for question in target.questions}
    moved = {f"q{q.id}": f"q{by_position[q.position]}" for q in source.questions if q.position in by_position}
    out = {}
    for key, text in texts.items():
        head, dot, rest = key.partition(".")
        out[f"{moved.get(head, head)}{dot}{rest}"] = text
    return out


def language_statuses(version: SurveyVersion) -> list[tuple[str, str, int]]:
    """(code, name, texts missing) of every language a survey can be translated into (the source aside)."""
    source = default_language()
    statuses = []
    for code, name in LANGUAGES.items():
        if code == source:
            continue
        translation = translation_for(version, code)
        missing = missing_keys(version, translation.texts or {} if translation else {})
        statuses.append((code, name, len(missing)))
    return statuses
