"""Codable questions only: the coded flag decides what enters the queue, vendor names feed the competitor
list, and the workbench's Skip and Not codable."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from app.auth.models import Role
from app.coding import marks, service
from app.coding.agreement import draw_double_coding_sample
from app.coding.models import AnswerMark, CodingAnswerMark, DoubleCodingAssignment
from app.crm.models import Competitor, CompetitorMergeSuggestion
from app.errors import ValidationError
from app.extensions import db
from surveys.builder import QuestionSpec, add_question, editable_version
from surveys.models import Answer, Question
from surveys.models import QuestionKind as K
from surveys.responding import record_phone_response
from tests.conftest import PASSWORD
from tests.survey_helpers import NOW, published_survey

SPECS = [
    QuestionSpec(K.LONG_TEXT, "Why did you choose another vendor?", page=1),
    QuestionSpec(K.SHORT_TEXT, "Which vendor did you choose?", page=1, feeds_competitor=True),
    QuestionSpec(K.SHORT_TEXT, "Your email, if we may follow up", page=1),
    QuestionSpec(K.DATE, "When does your contract end?", page=1),
    QuestionSpec(K.SHORT_TEXT, "In a few words, what mattered most?", page=1),
]


@pytest.fixture
def answer_all(make_user, make_contact):
    """Complete a phone response to SPECS; returns its answers by question text."""
    survey = published_survey(SPECS, name="Codable")
    caller = make_user(Role.CALLER)

    def factory(
        why="Too expensive", vendor="Looker", email="pat@example.com", ends="2027-03-31", most="Price"
    ):
        version = survey.published
        q = [question.id for question in version.questions]
        form = MultiDict(
            [
                (f"q{q[0]}", why),
                (f"q{q[1]}", vendor),
                (f"q{q[2]}", email),
                (f"q{q[3]}", ends),
                (f"q{q[4]}", most),
            ]
        )
        response, errors = record_phone_response(
            version, form, caller=caller, contact=make_contact(), now=NOW
        )
        assert errors == {}
        db.session.commit()
        return {answer.question.text: answer for answer in response.answers}

    return factory


def _queue(coder_id: int) -> list[int]:
    return list(
        db.session.scalars(service.queue_query(service.QueueFilter(), coder_id=coder_id).order_by(Answer.id))
    )


def test_each_question_gets_a_coded_flag_that_fits_what_it_asks():
    survey = published_survey(SPECS, name="Codable")
    coded = {q.text: (q.coded, q.feeds_competitor) for q in survey.published.questions}
    assert coded == {
        "Why did you choose another vendor?": (True, False),
        "Which vendor did you choose?": (False, True),
        "Your email, if we may follow up": (False, False),
        "When does your contract end?": (False, False),
        "In a few words, what mattered most?": (True, False),
    }


def test_only_answers_to_coded_questions_enter_the_coding_queue(answer_all, make_user):
    analyst = make_user(Role.ANALYST)
    answers = answer_all()
    assert _queue(analyst.id) == [
        answers["Why did you choose another vendor?"].id,
        answers["In a few words, what mattered most?"].id,
    ]
    assert service.queue_size(service.QueueFilter(), coder_id=analyst.id) == 2


def test_the_double_coding_sample_draws_only_coded_answers(answer_all, make_user):
    coders = [make_user(Role.ANALYST), make_user(Role.ANALYST)]
    answers = answer_all()
    assert draw_double_coding_sample(1.0, coders, now=NOW, seed=1) == 2
    drawn = set(db.session.scalars(select(DoubleCodingAssignment.answer_id)))
    assert drawn == {
        answers["Why did you choose another vendor?"].id,
        answers["In a few words, what mattered most?"].id,
    }


def test_a_vendor_name_is_matched_to_the_competitor_list_and_a_close_spelling_suggests_a_merge(answer_all):
    looker = Competitor(name="Looker")
    umbrella = Competitor(name="Umbrella Metrics")
    db.session.add_all([looker, umbrella])
    db.session.commit()
    exact = answer_all(vendor="LOOKER, Inc.")["Which vendor did you choose?"]
    assert exact.competitor_id == looker.id
    fuzzy = answer_all(vendor="Umbrela Metrics")["Which vendor did you choose?"]
    new = db.session.get(Competitor, fuzzy.competitor_id)
    assert new.name == "Umbrela Metrics"
    suggestion = db.session.scalar(select(CompetitorMergeSuggestion))
    assert (suggestion.competitor_id, suggestion.target_id) == (new.id, umbrella.id)
    assert db.session.scalar(select(db.func.count()).select_from(Competitor)) == 3


def test_a_vendor_question_must_be_short_text_and_is_never_coded():
    survey = published_survey(SPECS, name="Codable")
    draft = editable_version(survey, now=NOW)
    with pytest.raises(ValidationError, match="Only a short-text question can name the vendor chosen"):
        add_question(draft, QuestionSpec(K.LONG_TEXT, "Which vendor?", feeds_competitor=True))
    vendor = add_question(draft, QuestionSpec(K.SHORT_TEXT, "Vendor?", coded=True, feeds_competitor=True))
    assert (vendor.coded, vendor.feeds_competitor) == (False, True)
    rating = add_question(draft, QuestionSpec(K.RATING, "How good?", coded=True))
    assert rating.coded is False  # nothing to code in a number


def test_skip_brings_the_answer_back_after_the_others(answer_all, make_user):
    analyst = make_user(Role.ANALYST)
    first, second, third = (
        answer_all(why=why, most="")["Why did you choose another vendor?"] for why in ("a", "b", "c")
    )
    everyone = service.QueueFilter()
    marks.skip_answer(first, analyst, now=NOW)
    db.session.commit()
    assert service.next_answer_id(everyone, coder_id=analyst.id, after=first.id) == second.id
    assert service.next_answer_id(everyone, coder_id=analyst.id) == second.id  # the skipped one waits
    assert service.queue_size(everyone, coder_id=analyst.id) == 3  # still in the queue
    other = make_user(Role.ANALYST)
    assert service.next_answer_id(everyone, coder_id=other.id) == first.id  # only its coder put it off
    assert service.next_answer_id(everyone, coder_id=analyst.id, after=third.id) == second.id  # wraps
    for answer in (second, third):
        marks.mark_not_codable(answer, analyst, now=NOW)
    db.session.commit()
    assert service.next_answer_id(everyone, coder_id=analyst.id, after=first.id) == first.id  # it comes back


def test_not_codable_leaves_everyones_queue_and_is_counted(answer_all, make_user):
    analyst, other = make_user(Role.ANALYST), make_user(Role.ANALYST)
    answer = answer_all()["Why did you choose another vendor?"]
    marks.mark_not_codable(answer, analyst, now=NOW)
    marks.mark_not_codable(answer, other, now=NOW)
    db.session.commit()
    assert answer.id not in _queue(analyst.id)
    assert answer.id not in _queue(other.id)
    assert marks.not_codable_count() == 1  # two coders said so, one answer


def test_not_codable_closes_the_double_coding_assignments_of_the_answer(answer_all, make_user):
    coders = [make_user(Role.ANALYST), make_user(Role.ANALYST)]
    answer_all()
    draw_double_coding_sample(1.0, coders, now=NOW, seed=1)
    answer_id = db.session.scalar(select(DoubleCodingAssignment.answer_id).limit(1))
    marks.mark_not_codable(db.session.get(Answer, answer_id), coders[0], now=NOW)
    db.session.commit()
    open_ones = db.session.scalars(
        select(DoubleCodingAssignment).where(
            DoubleCodingAssignment.answer_id == answer_id, DoubleCodingAssignment.done_at.is_(None)
        )
    ).all()
    assert open_ones == []
    assert answer_id not in _queue(coders[1].id)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)


def test_the_workbench_buttons_skip_and_mark_not_codable_with_csrf_on(answer_all, make_user, make_app):
    first = answer_all(why="Too slow", most="")["Why did you choose another vendor?"]
    second = answer_all(why="No SSO", most="")["Why did you choose another vendor?"]
    analyst = make_user(Role.ANALYST)
    client = make_app(WTF_CSRF_ENABLED=True).test_client()
    login_page = client.get("/login").get_data(as_text=True)
    client.post(
        "/login", data={"email": analyst.email, "password": PASSWORD, "csrf_token": _csrf(login_page)}
    )
    page = client.get(f"/coding/answers/{first.id}").get_data(as_text=True)
    assert ">Skip</button>" in page
    assert ">Not codable</button>" in page
    token = _csrf(page)
    assert client.post(f"/coding/answers/{first.id}/skip", data={}).status_code == 400  # no CSRF token
    skipped = client.post(f"/coding/answers/{first.id}/skip", data={"csrf_token": token})
    assert skipped.headers["Location"].endswith(f"/coding/answers/{second.id}")
    marked = db.session.scalar(select(CodingAnswerMark.mark).where(CodingAnswerMark.answer_id == first.id))
    assert marked is AnswerMark.SKIPPED
    done = client.post(f"/coding/answers/{second.id}/not-codable", data={"csrf_token": token})
    assert done.headers["Location"].endswith(f"/coding/answers/{first.id}")  # the skipped one comes back
    assert second.id not in _queue(analyst.id)
    home = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "1 answer marked not codable." in home


def test_the_builder_lets_an_admin_set_the_coded_flag(login, make_user):
    client = login(make_user(Role.ADMIN))
    survey = published_survey(SPECS, name="Codable")
    form = client.get(f"/surveys/{survey.id}/questions/new").get_data(as_text=True)
    assert re.search(r'<input[^>]*checked[^>]*name="coded"|<input[^>]*name="coded"[^>]*checked', form)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    base = {"csrf_token": token, "kind": "long_text", "page": "2", "signal": "", "show_if": ""}
    client.post(f"/surveys/{survey.id}/questions/new", data={**base, "text": "Your address?"})
    client.post(
        f"/surveys/{survey.id}/questions/new", data={**base, "text": "What went wrong?", "coded": "y"}
    )
    stored = {q.text: q.coded for q in db.session.scalars(select(Question).where(Question.page == 2))}
    assert stored == {"Your address?": False, "What went wrong?": True}
    edit = client.get(
        f"/surveys/{survey.id}/questions/"
        f"{db.session.scalar(select(Question.id).where(Question.text == 'What went wrong?'))}/edit"
    ).get_data(as_text=True)
    assert re.search(r'<input[^>]*checked[^>]*name="coded"|<input[^>]*name="coded"[^>]*checked', edit)
