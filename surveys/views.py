"""Staff pages: the builder (admins), preview, responses and exports (analysts and admins)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for
from wtforms import SelectChoice

from app.auth.guard import roles_required
from app.auth.models import Role
from app.changes import domain_change
from app.codebook.models import ReasonCode
from app.db_types import utcnow
from app.downloads import csv_attachment
from app.errors import DomainError
from app.extensions import db
from app.i18n.languages import default_language, normalise_language, set_page_language
from app.organisation.service import brand
from surveys import builder
from surveys.cache import frozen_version
from surveys.forms import NewSurveyForm, QuestionForm, TextsForm
from surveys.library import create_from_template
from surveys.models import Question, QuestionKind, Signal, Survey, SurveyVersion
from surveys.models import Response as SurveyResponse
from surveys.responding import parse_answer
from surveys.results import (
    answer_text,
    export_csv,
    export_json,
    export_xlsx,
    funnel,
    responses_for,
    summarise,
)
from surveys.signals import uses_of
from surveys.translations import language_statuses, source_texts
from surveys.view_helpers import page_context

bp = Blueprint("surveys", __name__, template_folder="templates", url_prefix="/surveys")

admin_only = roles_required(Role.ADMIN)
readers = roles_required(Role.ADMIN, Role.ANALYST)


@bp.get("")
@readers
def index():
    surveys = db.session.scalars(db.select(Survey).order_by(Survey.created_at.desc())).all()
    return render_template("surveys/index.html", surveys=surveys, form=NewSurveyForm())


@bp.post("/new")
@admin_only
def create():
    form = NewSurveyForm()
    if not form.validate_on_submit():
        flash("Give the survey a name.", "error")
        return redirect(url_for("surveys.index"))
    now = utcnow()
    if form.template.data:
        survey = create_from_template(form.template.data, now=now, name=form.name.data)
    else:
        survey = builder.create_survey(form.name.data, title=form.name.data, now=now)
    db.session.commit()
    flash(f"Survey “{survey.name}” created as a draft.", "success")
    return redirect(url_for("surveys.edit", survey_id=survey.id))


def _shown_version(survey: Survey) -> SurveyVersion:
    return survey.draft or survey.published or survey.versions[-1]


@bp.get("/<int:survey_id>")
@admin_only
def edit(survey_id: int):
    survey = db.get_or_404(Survey, survey_id)
    version = _shown_version(survey)
    texts = TextsForm(obj=version, formdata=None)
    return render_template(
        "surveys/edit.html",
        survey=survey,
        version=version,
        texts=texts,
        frozen=version.is_frozen and builder.has_responses(version),
        translation_statuses=language_statuses(version),
        text_count=sum(1 for text in source_texts(version).values() if text.strip()),
        source_language=default_language(),
    )


@bp.post("/<int:survey_id>/texts")
@admin_only
def update_texts(survey_id: int):
    survey = db.get_or_404(Survey, survey_id)
    form = TextsForm()
    if form.validate_on_submit():
        version = builder.editable_version(survey, now=utcnow())
        builder.update_texts(
            version, title=form.title.data, introduction=form.introduction.data, thank_you=form.thank_you.data
        )
        db.session.commit()
        flash(f"Texts saved in version {version.number}.", "success")
    else:
        flash("The title is required and texts stay under 2000 characters.", "error")
    return redirect(url_for("surveys.edit", survey_id=survey.id))


def _options_from_text(text: str) -> list[builder.OptionSpec]:
    specs = []
    for line_no, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split("|")]
        weight = 0
        if len(parts) > 2 and parts[2]:
            try:
                weight = int(parts[2])
            except ValueError:
                raise DomainError(f"Option line {line_no}: the weight must be a whole number.") from None
        specs.append(
            builder.OptionSpec(parts[0], reason_code=parts[1] if len(parts) > 1 else None, weight=weight)
        )
    return specs


def _options_as_text(question: Question) -> str:
    return "\n".join(
        f"{o.label} | {o.reason_code.code if o.reason_code else ''} | {o.requalification_weight}"
        for o in question.options
    )


def _spec(form: QuestionForm) -> builder.QuestionSpec:
    return builder.QuestionSpec(
        kind=QuestionKind(form.kind.data),
        text=form.text.data,
        page=form.page.data,
        help_text=form.help_text.data,
        required=form.required.data,
        allow_other=form.allow_other.data,
        signal=Signal(form.signal.data) if form.signal.data else None,
        coded=form.coded.data,
        feeds_competitor=form.feeds_competitor.data,
        options=_options_from_text(form.options.data),
        show_if_position=int(form.show_if.data) if form.show_if.data else None,
        show_if_value=form.show_if_value.data,
    )


def _question_form(version: SurveyVersion, question: Question | None) -> QuestionForm:
    form = QuestionForm()
    form.show_if.choices = [SelectChoice("", "Always show")] + [
        SelectChoice(str(q.position), f"Q{q.position}. {q.text[:60]}")
        for q in version.questions
        if q is not question
    ]
    if question is None and request.method == "GET":
        form.coded.data = True  # most questions added by hand ask for a reason
    if question is not None and request.method == "GET":
        form.coded.data = question.coded
        form.feeds_competitor.data = question.feeds_competitor
        form.text.data = question.text
        form.help_text.data = question.help_text
        form.page.data = question.page
        form.required.data = question.required
        form.allow_other.data = question.allow_other
        form.show_if_value.data = question.show_if_value
        form.kind.data = question.kind.value
        form.signal.data = question.signal.value if question.signal else ""
        form.options.data = _options_as_text(question)
        form.show_if.data = str(question.show_if_question.position) if question.show_if_question else ""
    return form


def _editable_question(survey: Survey, question_id: int) -> Question:
    """The question in the version edits go to (a new draft copies it at the same position)."""
    question = db.get_or_404(Question, question_id)
    if question.version.survey_id != survey.id:
        abort(404)
    version = builder.editable_version(survey, now=utcnow())
    if question.version is not version:
        question = next(q for q in version.questions if q.position == question.position)
    return question


@bp.route("/<int:survey_id>/questions/new", methods=["GET", "POST"])
@admin_only
def new_question(survey_id: int):
    survey = db.get_or_404(Survey, survey_id)
    version = _shown_version(survey)
    form = _question_form(version, None)
    if form.validate_on_submit():
        with domain_change() as change:
            target = builder.editable_version(survey, now=utcnow())
            builder.add_question(target, _spec(form))
        if change:
            flash(f"Question added to version {target.number}.", "success")
            return redirect(url_for("surveys.edit", survey_id=survey.id))
    return render_template(
        "surveys/question_form.html", survey=survey, version=version, form=form, question=None
    )


@bp.route("/<int:survey_id>/questions/<int:question_id>/edit", methods=["GET", "POST"])
@admin_only
def edit_question(survey_id: int, question_id: int):
    survey = db.get_or_404(Survey, survey_id)
    question = db.get_or_404(Question, question_id)
    if question.version.survey_id != survey.id:
        abort(404)
    form = _question_form(question.version, question)
    if form.validate_on_submit():
        with domain_change() as change:
            target = _editable_question(survey, question_id)
            builder.update_question(target, _spec(form))
        if change:
            flash(f"Question saved in version {target.version.number}.", "success")
            return redirect(url_for("surveys.edit", survey_id=survey.id))
    return render_template(
        "surveys/question_form.html", survey=survey, version=question.version, form=form, question=question
    )


@bp.post("/<int:survey_id>/questions/<int:question_id>/move")
@admin_only
def move_question(survey_id: int, question_id: int):
    survey = db.get_or_404(Survey, survey_id)
    direction = -1 if request.form.get("direction") == "up" else 1
    with domain_change():
        builder.move_question(_editable_question(survey, question_id), direction)
    return redirect(url_for("surveys.edit", survey_id=survey.id))


@bp.route("/<int:survey_id>/questions/<int:question_id>/delete", methods=["GET", "POST"])
@admin_only
def delete_question(survey_id: int, question_id: int):
    """GET asks first (and changes nothing, not even a new draft); POST deletes."""
    survey = db.get_or_404(Survey, survey_id)
    if request.method == "GET":
        question = db.get_or_404(Question, question_id)
        if question.version.survey_id != survey.id:
            abort(404)
        return render_template(
            "confirm.html",
            title=f"Delete question {question.position}?",
            lines=[
                f"“{question.text}”",
                "Answers already given are kept with the version they answered; "
                "a published version is not changed: the deletion goes to the draft.",
            ],
            action=url_for("surveys.delete_question", survey_id=survey.id, question_id=question_id),
            button="Yes, delete the question",
            cancel=url_for("surveys.edit", survey_id=survey.id),
        )
    builder.delete_question(_editable_question(survey, question_id))
    db.session.commit()
    flash("Question deleted.", "success")
    return redirect(url_for("surveys.edit", survey_id=survey.id))


@bp.route("/<int:survey_id>/publish", methods=["GET", "POST"])
@admin_only
def publish(survey_id: int):
    """GET: what publishing changes (which campaigns move to the new version); POST: publish."""
    survey = db.get_or_404(Survey, survey_id)
    version = survey.draft
    if version is None:
        flash("There is no draft to publish: the live version is already the latest.", "info")
        return redirect(url_for("surveys.edit", survey_id=survey.id))
    uses = uses_of(survey)
    if request.method == "GET":
        return render_template("surveys/publish.html", survey=survey, version=version, uses=uses)
    with domain_change() as change:
        builder.publish(version, now=utcnow())
    if change:
        moved = [use for use in uses if use.status != "finished"]
        flash(
            f"Version {version.number} is live. New invitations "
            + (f"of {len(moved)} campaign{'s' if len(moved) != 1 else ''} " if moved else "")
            + "and the preview use it; links already sent keep the version they were sent with.",
            "success",
        )
    return redirect(url_for("surveys.edit", survey_id=survey.id))


def _version(survey: Survey) -> SurveyVersion:
    number = request.args.get("version", type=int)
    if number is not None:
        version = next((v for v in survey.versions if v.number == number), None)
        if version is None:
            abort(404)
        return version
    return survey.published or _shown_version(survey)


@bp.route("/<int:survey_id>/preview", methods=["GET", "POST"])
@readers
def preview(survey_id: int):
    """Exactly the customer's pages (every page, logic aside); nothing is stored."""
    survey = db.get_or_404(Survey, survey_id)
    version = _version(survey)
    language = normalise_language(request.args.get("lang", "")[:16])
    if language:  # the preview in a translation (or the source language when it is incomplete)
        version = frozen_version(version.id, language)
        set_page_language(version.language)
    numbers = [questions[0].page for questions in version.pages()]
    page = request.values.get("page", type=int) or (numbers[0] if numbers else 1)
    errors: dict[int, str] = {}
    if request.method == "POST" and page in numbers:
        index = numbers.index(page)
        if request.form.get("action") == "back":
            return redirect(_preview_url(survey, version, numbers[max(index - 1, 0)]))
        for question in version.pages()[index]:
            _value, error = parse_answer(question, request.form)
            if error:
                errors[question.id] = error
        if not errors:
            if index + 1 < len(numbers):
                return redirect(_preview_url(survey, version, numbers[index + 1]))
            return render_template(
                "surveys/respondent/thanks.html", version=version, unsubscribe_url=None, brand=brand()
            )
    context = page_context(
        version, None, page, form=request.form if errors else None, errors=errors, ignore_logic=True
    )
    status = 422 if errors else 200
    return render_template(
        "surveys/respondent/page.html",
        brand=brand(),
        **context,
        action=url_for(
            "surveys.preview",
            survey_id=survey.id,
            version=version.number,
            lang=request.args.get("lang") or None,
        ),
        unsubscribe_url=None,
        preview=True,
    ), status


def _preview_url(survey: Survey, version: SurveyVersion, page: int) -> str:
    lang = request.args.get("lang") or None
    return url_for("surveys.preview", survey_id=survey.id, version=version.number, page=page, lang=lang)


def _versions_filter(survey: Survey) -> list[SurveyVersion]:
    """The version ?version=N picks, or every version customers saw (the default), newest first."""
    if request.args.get("version"):
        return [_version(survey)]
    versions = [version for version in survey.versions if version.is_frozen] or [_shown_version(survey)]
    return sorted(versions, key=lambda version: version.number, reverse=True)


@bp.get("/<int:survey_id>/responses")
@readers
def responses(survey_id: int):
    survey = db.get_or_404(Survey, survey_id)
    versions = _versions_filter(survey)
    rows = responses_for(versions)
    answered = {row.version_id for row in rows}
    summarised = [v for v in versions if v.id in answered] or versions[:1]
    return render_template(
        "surveys/responses.html",
        survey=survey,
        versions=versions,
        selected=request.args.get("version", type=int) if len(versions) == 1 else None,
        responses=rows,
        version_numbers={v.id: v.number for v in survey.versions},
        summaries=[(v, summarise(v, [r for r in rows if r.version_id == v.id])) for v in summarised],
        funnel=funnel(survey),
    )


@bp.get("/responses/<int:response_id>")
@readers
def response_detail(response_id: int):
    response = db.get_or_404(SurveyResponse, response_id)
    answers = response.answers_by_question()
    codes = {code.id: code for code in db.session.scalars(db.select(ReasonCode))}
    return render_template(
        "surveys/response.html",
        response=response,
        rows=[(q, answer_text(q, answers.get(q.id)), answers.get(q.id)) for q in response.version.questions],
        codes=codes,
    )


@bp.get("/<int:survey_id>/export.<fmt>")
@readers
def export(survey_id: int, fmt: str):
    """Every version in one file (a version column) unless ?version=N; ?contact=1 adds email and CRM ids."""
    survey = db.get_or_404(Survey, survey_id)
    versions = _versions_filter(survey)
    contact_columns = request.args.get("contact") == "1"
    stem = (
        f"survey-{survey.id}-{f'v{versions[0].number}' if len(versions) == 1 else 'all-versions'}-responses"
    )
    if fmt == "csv":
        return csv_attachment(f"{stem}.csv", export_csv(versions, contact_columns=contact_columns))
    if fmt == "xlsx":
        return Response(
            export_xlsx(versions, contact_columns=contact_columns),
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f"attachment; filename={stem}.xlsx"},
        )
    if fmt == "json":
        return jsonify(export_json(versions, contact_columns=contact_columns))
    abort(404)
