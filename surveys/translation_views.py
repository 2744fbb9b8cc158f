"""The builder's translation pages: texts side by side with the source, and CSV for translators."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired

from app.db_types import utcnow
from app.downloads import csv_attachment
from app.errors import DomainError
from app.extensions import db
from app.i18n.languages import LANGUAGES, default_language, language_name
from surveys import builder
from surveys.models import Survey, SurveyVersion
from surveys.translations import (
    export_csv,
    import_csv,
    key_label,
    missing_keys,
    rekey,
    save_translation,
    source_texts,
    translation_for,
)
from surveys.views import admin_only, bp, readers


class TranslationForm(FlaskForm):
    """CSRF only: the texts are fields named t-<key>, one per text of the version."""


class TranslationImportForm(FlaskForm):
    file = FileField("Translated CSV", validators=[FileRequired()])


def _language(code: str) -> str:
    if code not in LANGUAGES or code == default_language():
        abort(404)
    return code


def _shown(survey: Survey) -> SurveyVersion:
    return survey.draft or survey.published or survey.versions[-1]


def _draft_with(survey: Survey, shown: SurveyVersion, texts: dict[str, str]) -> tuple[SurveyVersion, dict]:
    """The draft the texts go to (copied from the live version if need be), and the texts keyed on it."""
    draft = builder.editable_version(survey, now=utcnow())
    return draft, rekey(texts, shown, draft)


@bp.route("/<int:survey_id>/translations/<code>", methods=["GET", "POST"])
@admin_only
def translation(survey_id: int, code: str):
    survey = db.get_or_404(Survey, survey_id)
    language = _language(code)
    version = _shown(survey)
    form = TranslationForm()
    if form.validate_on_submit():
        texts = {key[2:]: value for key, value in request.form.items() if key.startswith("t-")}
        try:
            draft, texts = _draft_with(survey, version, texts)
            save_translation(draft, language, texts, now=utcnow())
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            db.session.commit()
            missing = len(missing_keys(draft, texts))
            flash(
                f"{language_name(language)} saved in version {draft.number}"
                + (f": {missing} texts still to translate." if missing else ": every text is translated."),
                "success",
            )
            return redirect(url_for("surveys.translation", survey_id=survey.id, code=language))
    saved = translation_for(version, language)
    texts = request.form if request.method == "POST" else None
    rows = [
        (
            index,
            key,
            key_label(version, key),
            source,
            (texts or {}).get(f"t-{key}", (saved.texts if saved else {}).get(key, "")),
        )
        for index, (key, source) in enumerate(source_texts(version).items())
        if source.strip()
    ]
    return render_template(
        "surveys/translation.html",
        survey=survey,
        version=version,
        language=language,
        source_language=default_language(),
        rows=rows,
        missing=len(missing_keys(version, saved.texts if saved else {})),
        form=form,
        import_form=TranslationImportForm(formdata=None),
    ), 422 if request.method == "POST" else 200


@bp.get("/<int:survey_id>/translations/<code>.csv")
@readers
def translation_csv(survey_id: int, code: str):
    survey = db.get_or_404(Survey, survey_id)
    language = _language(code)
    version = _shown(survey)
    return csv_attachment(f"{survey.name} v{version.number} {language}.csv", export_csv(version, language))


@bp.post("/<int:survey_id>/translations/<code>/import")
@admin_only
def translation_import(survey_id: int, code: str):
    survey = db.get_or_404(Survey, survey_id)
    language = _language(code)
    form = TranslationImportForm()
    if not form.validate_on_submit():
        flash("Choose the translated CSV file to upload.", "error")
        return redirect(url_for("surveys.translation", survey_id=survey.id, code=language))
    shown = _shown(survey)
    try:
        draft = builder.editable_version(survey, now=utcnow())
        data = form.file.data.read(2 * 1024 * 1024 + 1)
        count = import_csv(draft, language, data, now=utcnow(), keyed_on=shown)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(f"{count} {language_name(language)} texts imported into version {draft.number}.", "success")
    return redirect(url_for("surveys.translation", survey_id=survey.id, code=language))
