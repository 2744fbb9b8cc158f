"""Staff pages: builder, preview, responses, summaries, funnel and exports."""

from __future__ import annotations

import csv
import io
import re

from openpyxl import load_workbook
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from app.auth.models import Role
from app.codebook.models import ReasonCode
from app.codebook.service import ensure_default_codebook, retire_code
from app.extensions import db
from app.messaging.channels import Channel
from surveys.invitations import DEFAULT_TEMPLATES, queue_invitation_message
from surveys.models import Question, QuestionKind, Survey, VersionStatus
from surveys.responding import ResponseChannel, save_page, start_response
from tests.survey_helpers import NOW, invite, published_survey, question_ids, win_loss_survey


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)


def test_admin_builds_and_publishes_a_survey_with_csrf_on(make_app, make_user):
    app = make_app(WTF_CSRF_ENABLED=True)
    admin = make_user(Role.ADMIN)
    ensure_default_codebook()
    db.session.commit()
    client = app.test_client()
    login_page = client.get("/login").get_data(as_text=True)
    client.post(
        "/login",
        data={"email": admin.email, "password": "correct horse battery", "csrf_token": _csrf(login_page)},
    )
    page = client.get("/surveys").get_data(as_text=True)
    response = client.post(
        "/surveys/new", data={"name": "Churn check", "template": "", "csrf_token": _csrf(page)}
    )
    survey = db.session.scalar(select(Survey))
    assert response.headers["Location"].endswith(f"/surveys/{survey.id}")
    form = client.get(f"/surveys/{survey.id}/questions/new").get_data(as_text=True)
    response = client.post(
        f"/surveys/{survey.id}/questions/new",
        data={
            "csrf_token": _csrf(form),
            "kind": "single_choice",
            "text": "Why did you leave?",
            "page": "1",
            "required": "y",
            "signal": "",
            "options": "Too expensive | price.too_high | 0\nMissing a feature | | 1",
            "show_if": "",
        },
    )
    assert response.status_code == 302
    question = db.session.scalar(select(Question))
    assert [o.label for o in question.options] == ["Too expensive", "Missing a feature"]
    assert question.options[0].reason_code.code == "price.too_high"
    assert question.options[1].requalification_weight == 1
    edit = client.get(f"/surveys/{survey.id}").get_data(as_text=True)
    assert "Why did you leave?" in edit
    response = client.post(f"/surveys/{survey.id}/publish", data={"csrf_token": _csrf(edit)})
    db.session.expire_all()
    assert survey.published is not None
    assert survey.published.status is VersionStatus.PUBLISHED
    # Without the CSRF token, nothing changes.
    response = client.post(f"/surveys/{survey.id}/questions/{question.id}/delete")
    assert response.status_code == 400
    assert db.session.scalar(select(Question.id)) == question.id


def test_deleting_a_question_asks_first_and_the_question_stays_until_confirmed(login, make_user):
    client = login(make_user(Role.ADMIN))
    survey = published_survey()
    question = survey.published.questions[0]
    versions = len(survey.versions)

    edit = client.get(f"/surveys/{survey.id}").get_data(as_text=True)
    confirm = client.get(f"/surveys/{survey.id}/questions/{question.id}/delete")

    assert f'href="/surveys/{survey.id}/questions/{question.id}/delete"' in edit
    page = confirm.get_data(as_text=True)
    assert confirm.status_code == 200
    assert f"Delete question {question.position}?" in page
    assert question.text in page
    db.session.expire_all()
    assert len(survey.versions) == versions  # asking made no draft
    client.post(f"/surveys/{survey.id}/questions/{question.id}/delete", data={"csrf_token": _csrf(page)})
    db.session.expire_all()
    assert len(survey.versions) == versions + 1
    assert question.text not in [q.text for q in survey.versions[-1].questions]


def test_unknown_reason_code_is_refused_with_a_message(login, make_user):
    client = login(make_user(Role.ADMIN))
    survey = published_survey()
    response = client.post(
        f"/surveys/{survey.id}/questions/new",
        data={
            "kind": "single_choice",
            "text": "Q",
            "page": "5",
            "signal": "",
            "options": "A | no.such.code\nB",
        },
        follow_redirects=True,
    )
    assert "No reason code “no.such.code” in the codebook." in response.get_data(as_text=True)
    assert len(survey.published.questions) == 8


def test_a_retired_reason_code_is_refused_on_save(login, make_user):
    client = login(make_user(Role.ADMIN))
    survey = published_survey()
    retire_code(db.session.scalar(select(ReasonCode).where(ReasonCode.code == "price.too_high")))
    db.session.commit()
    response = client.post(
        f"/surveys/{survey.id}/questions/new",
        data={
            "kind": "single_choice",
            "text": "Q",
            "page": "5",
            "signal": "",
            "options": "A | price.too_high\nB",
        },
        follow_redirects=True,
    )
    assert "The reason code “price.too_high” is retired: map the option to an active code." in (
        response.get_data(as_text=True)
    )
    assert len(survey.published.questions) == 8
    assert db.session.scalars(select(Question).where(Question.text == "Q")).all() == []


def test_editing_after_responses_goes_to_a_new_draft_through_the_page(login, make_user, make_contact):
    client = login(make_user(Role.ADMIN))
    survey = published_survey()
    v1 = survey.published
    invitation, _ = invite(v1, make_contact())
    start_response(v1, channel=ResponseChannel.WEB, now=NOW, invitation=invitation)
    db.session.commit()
    first = v1.questions[0]
    response = client.post(
        f"/surveys/{survey.id}/questions/{first.id}/edit",
        data={"kind": "short_text", "text": "What happened?", "page": "1", "signal": ""},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert v1.questions[0].text == "Main reason?"
    assert survey.draft.questions[0].text == "What happened?"
    assert survey.draft.questions[0].kind is QuestionKind.SHORT_TEXT


def test_preview_shows_the_customer_page_and_saves_nothing(login, make_user):
    client = login(make_user(Role.ANALYST))
    survey = published_survey()
    q = question_ids(survey.published)
    html = client.get(f"/surveys/{survey.id}/preview").get_data(as_text=True)
    assert "Main reason?" in html
    assert "nothing is saved" in html
    response = client.post(f"/surveys/{survey.id}/preview", data={"page": "1", "action": "next"})
    assert response.status_code == 422
    assert "This question needs an answer." in response.get_data(as_text=True)
    response = client.post(f"/surveys/{survey.id}/preview", data={"page": "1", f"q{q[0]}": "price"})
    assert response.headers["Location"].endswith("page=2")
    assert "When?" in client.get(f"/surveys/{survey.id}/preview?page=3").get_data(as_text=True)


def test_callers_cannot_open_survey_pages(login, make_user):
    client = login(make_user(Role.CALLER))
    survey = published_survey()
    assert client.get("/surveys").status_code == 403
    assert client.get(f"/surveys/{survey.id}/responses").status_code == 403


def _answered(make_contact):
    survey = win_loss_survey()
    version = survey.published
    q = question_ids(version)
    for n, (reason, factors, rating, talk) in enumerate(
        [("price", ["support", "__other__"], "2", "yes"), ("timing", [], "5", "no")]
    ):
        contact = make_contact(first_name=f"P{n}")
        invitation, _ = invite(version, contact, channel=Channel.EMAIL if n == 0 else Channel.SMS)
        queue_invitation_message(invitation, DEFAULT_TEMPLATES, kind="invitation", now=NOW, sender="K")
        invitation.opened_at = NOW
        response = start_response(version, channel=ResponseChannel.WEB, now=NOW, invitation=invitation)
        form = MultiDict([(f"q{q[0]}", reason), (f"q{q[1]}", '=HYPERLINK("x")')])
        for factor in factors:
            form.add(f"q{q[2]}", factor)
        form.add(f"q{q[2]}_other", "Roadmap")
        save_page(response, 1, form, now=NOW)
        save_page(response, 2, MultiDict({f"q{q[3]}": rating, f"q{q[5]}": talk}), now=NOW)
    db.session.commit()
    return survey, q


def test_responses_page_shows_summaries_funnel_and_drop_off(login, make_user, make_contact):
    client = login(make_user(Role.ANALYST))
    survey, q = _answered(make_contact)
    html = client.get(f"/surveys/{survey.id}/responses").get_data(as_text=True)
    assert "2 responses" in html
    assert "average 3.5" in html
    assert "1 stopped here" in html  # the yes-respondent stopped before "when would suit you"
    assert '<th scope="row">all</th><td class="num">2</td><td class="num">2</td>' in html.replace("\n", "")


def test_exports_have_one_row_per_response_and_option_labels(login, make_user, make_contact):
    client = login(make_user(Role.ANALYST))
    survey, q = _answered(make_contact)
    text = client.get(f"/surveys/{survey.id}/export.csv").get_data(as_text=True)
    assert text.startswith("\ufeff")  # a UTF-8 BOM: Excel shows accented names right
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert len(rows) == 3
    header = rows[0]
    assert header[8].startswith("Q1. What was the main reason")
    first = next(r for r in rows[1:] if r[8] == "Price")
    assert first[10] == "Support and service; Other: Roadmap"
    assert first[9] == '\'=HYPERLINK("x")'  # no formula injection
    workbook = load_workbook(io.BytesIO(client.get(f"/surveys/{survey.id}/export.xlsx").data))
    sheet = workbook["Responses"]
    assert sheet.max_row == 3
    assert {sheet.cell(row=r, column=9).value for r in (2, 3)} == {"Price", "Timing"}
    data = client.get(f"/surveys/{survey.id}/export.json").get_json()
    assert len(data["responses"]) == 2
    assert data["questions"][0]["options"][0] == {"value": "price", "label": "Price"}
