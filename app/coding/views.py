"""Coding pages: the keyboard-first workbench, bulk apply, rules and auto-accept, agreement."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms import SelectChoice

from app.auth.guard import roles_required
from app.auth.models import Role, User
from app.changes import domain_change
from app.codebook.models import ReasonCode
from app.codebook.service import codebook_tree
from app.coding import abstention, agreement, auto_accept, marks, sample, service, suggest
from app.coding.code_list import workbench_codes
from app.coding.forms import ActionForm, AutoAcceptForm, BulkForm, CodeAnswerForm, RuleForm, SampleForm
from app.coding.models import CodeSetting, CodingRule, ImportedAnswer, TrainedModel
from app.crm.models import Competitor
from app.db_types import utcnow
from app.errors import ValidationError
from app.extensions import db
from app.validation import parse_id, parse_ids
from campaigns.models import Campaign
from surveys.models import Answer, Question, ResponseChannel, Survey

bp = Blueprint("coding", __name__, url_prefix="/coding", template_folder="templates")
analysts = roles_required(Role.ADMIN, Role.ANALYST)
admin_only = roles_required(Role.ADMIN)


def _int_arg(name: str) -> int | None:
    return parse_id(request.args.get(name))


def _filters() -> service.QueueFilter:
    channel = request.args.get("channel") or None
    return service.QueueFilter(
        survey_id=_int_arg("survey"),
        question_id=_int_arg("question"),
        campaign_id=_int_arg("campaign"),
        competitor_id=_int_arg("competitor"),
        channel=ResponseChannel(channel) if channel in {c.value for c in ResponseChannel} else None,
    )


def _filter_choices() -> dict:
    return {
        "surveys": db.session.scalars(select(Survey).order_by(Survey.name)).all(),
        "campaigns": db.session.scalars(select(Campaign).order_by(Campaign.name)).all(),
        "competitors": db.session.scalars(select(Competitor).order_by(Competitor.name)).all(),
        "channels": list(ResponseChannel),
        "questions": db.session.scalars(
            select(Question).where(Question.coded).order_by(Question.version_id, Question.position)
        ).all(),
    }


def _code_choices() -> list[SelectChoice]:
    return [
        SelectChoice(str(n.code.id), f"{n.code.code} — {n.code.label}")
        for n in codebook_tree(include_retired=False)
    ]


@bp.get("/")
@analysts
def workbench():
    """The queue: go to the first answer to code (with the filters kept)."""
    filters = _filters()
    answer_id = service.next_answer_id(filters, coder_id=current_user.id)
    if answer_id is not None:
        return redirect(url_for("coding.answer", answer_id=answer_id, **filters.as_args()))
    return render_template("coding/empty.html", filters=filters, **_filter_choices())


@bp.route("/answers/<int:answer_id>", methods=["GET", "POST"])
@analysts
def answer(answer_id: int):
    answer = db.get_or_404(Answer, answer_id)
    filters = _filters()
    form = CodeAnswerForm()
    if form.validate_on_submit():
        code_ids = parse_ids(request.form.getlist("code"))
        span = _parse_span(form.span.data)
        if span is False:
            form.span.errors = ["Write the span as start-end, for example 4-19."]
        else:
            start, end = span or (None, None)
            with domain_change() as change:
                service.set_person_codes(
                    answer,
                    current_user,
                    [service.CodeChoice(i, start, end) for i in code_ids],
                    now=utcnow(),
                    memo=form.memo.data,
                )
            if change:
                return _after(answer, filters, "Coded.")
    response = answer.response
    suggestions = suggest.suggest(answer.text or "") if answer.text else []
    codings = service.visible_codings(answer, current_user)
    mine = {c.reason_code_id for c in codings if c.coder_key == service.person_key(current_user)}
    others = [a for a in sorted(response.answers, key=lambda a: a.question.position) if a.id != answer.id]
    code_search = request.args.get("codes", "")
    code_list = workbench_codes(search=code_search, keep=mine)
    nodes = code_list.nodes
    return render_template(
        "coding/answer.html",
        answer=answer,
        response=response,
        others=others,
        opportunity=response.opportunity,
        calls=service.call_notes(response),
        suggestions=suggestions,
        suggested_ids=[s.code.id for s in suggestions],
        explained=abstention.workbench_explanations(answer.text or "", suggestions),
        codings=codings,
        mine=mine,
        hidden=service.hidden_coders(answer, current_user.id),
        sample_mark=sample.sample_mark(answer, current_user.id),
        progress=sample.sample_progress(),
        nodes=nodes,
        depth={n.code.id: n.depth for n in nodes},
        definitions={n.code.id: n.code.definition for n in nodes},
        all_codes_listed=code_list.complete,
        code_search=code_search,
        form=form,
        filters=filters,
        **_filter_choices(),
    )


def _after(answer: Answer, filters: service.QueueFilter, done: str, *, announce: bool = False):
    """On to the next answer of the queue after this one, or the empty queue (`announce`: say what was done
    either way)."""
    next_id = service.next_answer_id(filters, coder_id=current_user.id, after=answer.id)
    if next_id is None:
        flash(f"{done} The queue is empty.", "success")
        return redirect(url_for("coding.workbench", **filters.as_args()))
    if announce:
        flash(done, "success")
    return redirect(url_for("coding.answer", answer_id=next_id, **filters.as_args()))


@bp.post("/answers/<int:answer_id>/skip")
@analysts
def skip(answer_id: int):
    """Put the answer off: it comes back after the answers not skipped."""
    answer = db.get_or_404(Answer, answer_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    marks.skip_answer(answer, current_user, now=utcnow())
    db.session.commit()
    return _after(answer, _filters(), "Skipped: it comes back later.", announce=True)


@bp.post("/answers/<int:answer_id>/not-codable")
@analysts
def not_codable(answer_id: int):
    """The answer holds no reason to code: it leaves the queue, and reports count it as not codable."""
    answer = db.get_or_404(Answer, answer_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    marks.mark_not_codable(answer, current_user, now=utcnow())
    db.session.commit()
    return _after(answer, _filters(), "Marked not codable.", announce=True)


def _parse_span(value: str | None) -> tuple[int, int] | None | bool:
    if not value or not value.strip():
        return None
    start, sep, end = value.strip().partition("-")
    first, last = parse_id(start), parse_id(end)
    if not sep or first is None or last is None:
        return False
    return first, last


@bp.route("/bulk", methods=["GET", "POST"])
@analysts
def bulk():
    """Bulk apply: preview the answers a search matches, then code them all."""
    filters = _filters()
    form = BulkForm() if request.method == "POST" else BulkForm(request.args, meta={"csrf": False})
    form.code.choices = _code_choices()
    matches, total = [], None
    if form.validate_on_submit():
        code = db.get_or_404(ReasonCode, int(form.code.data))
        with domain_change() as change:
            count = service.bulk_apply(form.search.data, code, filters, coder=current_user, now=utcnow())
        if change:
            flash(f"{code.code} applied to {count} answer{'s' if count != 1 else ''}.", "success")
            return redirect(url_for("coding.bulk", **filters.as_args()))
    elif form.search.data:
        try:
            matches = service.bulk_matches(form.search.data, filters, coder_id=current_user.id)
            total = len(matches)
        except ValidationError as error:
            form.search.errors = [error.message]
    return render_template(
        "coding/bulk.html",
        form=form,
        matches=matches[:200],
        total=total,
        filters=filters,
        **_filter_choices(),
    )


@bp.route("/rules", methods=["GET", "POST"])
@analysts
def rules():
    form = RuleForm(prefix="rule")
    form.code.choices = _code_choices()
    auto = AutoAcceptForm(prefix="auto")
    auto.code.choices = _code_choices()
    if request.method == "POST" and "rule-phrase" in request.form:
        if form.validate_on_submit():
            code = db.get_or_404(ReasonCode, int(form.code.data))
            with domain_change() as change:
                service.add_rule(code, form.phrase.data)
            if change:
                flash(f"Rule added to {code.code}.", "success")
                return redirect(url_for("coding.rules"))
    elif request.method == "POST":
        if current_user.role is not Role.ADMIN:
            abort(403)
        if auto.validate_on_submit():
            code = db.get_or_404(ReasonCode, int(auto.code.data))
            threshold = float(auto.threshold.data) if auto.threshold.data is not None else None
            with domain_change() as change:
                auto_accept.set_auto_accept(code, threshold, min_precision=_min_precision())
            if change:
                flash(f"Auto-accept for {code.code}: {threshold if threshold else 'off'}.", "success")
                return redirect(url_for("coding.rules"))
    rule_rows = db.session.scalars(
        select(CodingRule).join(ReasonCode).order_by(ReasonCode.code, CodingRule.phrase)
    ).all()
    settings = db.session.scalars(select(CodeSetting).join(ReasonCode).order_by(ReasonCode.code)).all()
    model = db.session.scalar(select(TrainedModel).order_by(TrainedModel.id.desc()).limit(1))
    return render_template(
        "coding/rules.html",
        form=form,
        auto=auto,
        rules=rule_rows,
        settings=settings,
        model=model,
        min_precision=_min_precision(),
        delete_form=ActionForm(),
    )


def _min_precision() -> float:
    from flask import current_app

    return current_app.config.get("CODING_AUTO_ACCEPT_MIN_PRECISION", 0.9)


@bp.post("/rules/<int:rule_id>/delete")
@analysts
def delete_rule(rule_id: int):
    rule = db.get_or_404(CodingRule, rule_id)
    if ActionForm().validate_on_submit():
        db.session.delete(rule)
        db.session.commit()
        flash("Rule removed.", "success")
    return redirect(url_for("coding.rules"))


@bp.route("/agreement", methods=["GET", "POST"])
@analysts
def agreement_page():
    sample_form = SampleForm()
    analysts_list = db.session.scalars(
        select(User).where(User.role.in_((Role.ANALYST, Role.ADMIN)), User.active).order_by(User.name)
    ).all()
    sample_form.coders.choices = [SelectChoice(str(u.id), u.name) for u in analysts_list]
    if request.method == "POST":
        if current_user.role is not Role.ADMIN:
            abort(403)
        if sample_form.validate_on_submit():
            coders = [u for u in analysts_list if str(u.id) in sample_form.coders.data]
            with domain_change() as change:
                drawn = agreement.draw_double_coding_sample(
                    float(sample_form.share.data) / 100, coders, now=utcnow()
                )
            if change:
                flash(
                    f"{drawn} answer{'s' if drawn != 1 else ''} will be coded by two analysts each.",
                    "success",
                )
                return redirect(url_for("coding.agreement_page"))
    result = agreement.measure_agreement()
    return render_template(
        "coding/agreement.html",
        result=result,
        figures=result.as_json(),
        label=agreement.kappa_label,
        names=sample.coder_names(result.coders or ()),
        progress=sample.sample_progress(),
        disagreements=agreement.disagreements(),
        sample=sample_form,
        resolve_form=ActionForm(),
        nodes=codebook_tree(include_retired=False),
    )


@bp.post("/agreement/<int:answer_id>/resolve")
@admin_only
def resolve(answer_id: int):
    """A lead's final codes for a disagreement (stored as the "final" coder, and audited)."""
    answer = db.get_or_404(Answer, answer_id)
    if ActionForm().validate_on_submit():
        code_ids = parse_ids(request.form.getlist("code"))
        with domain_change() as change:
            agreement.resolve(answer, current_user, code_ids, now=utcnow())
        if change:
            flash("Disagreement resolved: the final codes stand for this answer.", "success")
    return redirect(url_for("coding.agreement_page"))


@bp.get("/imported")
@analysts
def imported():
    """Answers brought in with `coding import` (source import): the training corpus."""
    page = db.paginate(select(ImportedAnswer).order_by(ImportedAnswer.id), per_page=50, error_out=False)
    return render_template("coding/imported.html", page=page)
