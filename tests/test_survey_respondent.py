"""The respondent's pages: answer page by page, resume, back, errors, limits, replayed submits."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from surveys.kinds import DATE_HINT
from surveys.models import Answer, Response, ResponseStatus
from surveys.signals import response_completed
from tests.survey_helpers import NOW, invite, published_survey, question_ids


def _setup(make_contact, **kwargs):
    survey = published_survey()
    version = survey.published
    invitation, token = invite(version, make_contact(first_name="Ada"), **kwargs)
    return version, invitation, token, question_ids(version)


def _page1(q):
    return {
        "page": "1",
        "action": "next",
        f"q{q[0]}": "price",
        f"q{q[1]}": ["support", "__other__"],
        f"q{q[1]}_other": "Their roadmap",
    }


def test_first_visit_shows_page_one_and_records_the_open(client, make_contact):
    version, invitation, token, q = _setup(make_contact)
    response = client.get(f"/s/{token}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Main reason?" in html
    assert "Page 1 of about 4" in html  # page 3 shows only after a "yes" on page 2
    assert "Two minutes." in html
    assert "/unsubscribe/" in html
    assert "Lost deals" not in html  # no staff navigation
    db.session.refresh(invitation)
    assert invitation.opened_at is not None
    assert invitation.started_at is None


def test_answers_are_saved_per_page_and_the_link_resumes(client, make_contact):
    version, invitation, token, q = _setup(make_contact)
    response = client.post(f"/s/{token}", data=_page1(q))
    assert response.status_code == 302
    assert response.headers["Location"].endswith("?page=2")
    stored = db.session.scalars(select(Answer).order_by(Answer.question_id)).all()
    assert [a.choices for a in stored] == [["price"], ["support", "__other__"]]
    assert stored[1].text == "Their roadmap"
    # A new browser (no cookie) with the same link continues on page 2.
    other = client.application.test_client()
    html = other.get(f"/s/{token}").get_data(as_text=True)
    assert "How is it going?" in html
    assert "Page 2 of about 4" in html
    # Going back shows the earlier answers.
    html = other.get(f"/s/{token}?page=1").get_data(as_text=True)
    assert 'value="price"\n            checked' in html or 'value="price" checked' in " ".join(html.split())
    assert 'value="Their roadmap"' in html


def test_back_keeps_the_answers_given_on_the_page(client, make_contact):
    version, invitation, token, q = _setup(make_contact)
    client.post(f"/s/{token}", data=_page1(q))
    response = client.post(f"/s/{token}", data={"page": "2", "action": "back", f"q{q[3]}": "9"})
    assert response.headers["Location"].endswith("?page=1")
    answer = db.session.scalar(select(Answer).where(Answer.question_id == q[3]))
    assert answer.number == 9
    html = client.get(f"/s/{token}?page=2").get_data(as_text=True)
    assert " ".join(['value="9"', "checked"]) in " ".join(html.split())


def test_a_missing_required_answer_is_announced_and_tied_to_its_field(client, make_contact):
    version, invitation, token, q = _setup(make_contact)
    response = client.post(f"/s/{token}", data={"page": "1", "action": "next", f"q{q[1]}": "support"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'role="alert"' in html
    assert "This question needs an answer." in html
    assert f'aria-describedby="q{q[0]}-error"' in html
    assert f'href="#q{q[0]}"' in html
    # The valid answer on the same page was kept, and shown again.
    assert db.session.scalar(select(Answer.choices).where(Answer.question_id == q[1])) == ["support"]


def test_too_long_text_is_refused_with_a_message_not_cut(client, make_contact):
    version, invitation, token, q = _setup(make_contact)
    client.post(f"/s/{token}", data=_page1(q))
    client.post(f"/s/{token}", data={"page": "2", "action": "next", f"q{q[4]}": "no"})
    long_text = "x" * 5001
    response = client.post(f"/s/{token}", data={"page": "4", "action": "submit", f"q{q[7]}": long_text})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Please keep this under 5000 characters (you wrote 5001)" in html
    assert long_text in html  # what they typed is still in the box
    assert db.session.scalar(select(Answer).where(Answer.question_id == q[7])) is None
    assert db.session.scalar(select(Response.status)) is ResponseStatus.IN_PROGRESS


def test_logic_shows_the_date_question_only_after_yes(client, make_contact):
    version, invitation, token, q = _setup(make_contact)
    client.post(f"/s/{token}", data=_page1(q))
    response = client.post(f"/s/{token}", data={"page": "2", "action": "next", f"q{q[4]}": "yes"})
    assert response.headers["Location"].endswith("?page=3")
    html = client.get(f"/s/{token}?page=3").get_data(as_text=True)
    assert "When?" in html
    assert "Page 3 of 4" in html  # the count never grew: it said "about 4" from the start
    client.post(f"/s/{token}", data={"page": "3", "action": "next", f"q{q[5]}": "2027-03-31"})
    # Changing the answer to no hides page 3 and drops its answer at completion.
    client.post(f"/s/{token}", data={"page": "2", "action": "next", f"q{q[4]}": "no"})
    html = client.get(f"/s/{token}").get_data(as_text=True)
    assert "Which vendor?" in html
    assert "Page 3 of 3" in html
    client.post(f"/s/{token}", data={"page": "4", "action": "submit", f"q{q[6]}": "Globex"})
    response_row = db.session.scalar(select(Response))
    assert response_row.status is ResponseStatus.COMPLETE
    assert q[5] not in {a.question_id for a in response_row.answers}


def _finish(client, token, q):
    client.post(f"/s/{token}", data=_page1(q))
    client.post(f"/s/{token}", data={"page": "2", "action": "next", f"q{q[4]}": "no", f"q{q[2]}": "4"})
    return client.post(f"/s/{token}", data={"page": "4", "action": "submit", f"q{q[7]}": "Call us."})


def test_final_submit_replayed_stores_one_response_and_fires_one_follow_up(client, make_contact):
    version, invitation, token, q = _setup(make_contact)
    fired = []

    def listener(response, now):
        fired.append(response.id)

    with response_completed.connected_to(listener):
        first = _finish(client, token, q)
        again = client.post(f"/s/{token}", data={"page": "4", "action": "submit", f"q{q[7]}": "Call us."})
        again_twice = client.post(f"/s/{token}", data={"page": "4", "action": "submit"})
    assert first.headers["Location"].endswith(f"/s/{token}/thanks")
    assert again.headers["Location"].endswith(f"/s/{token}/thanks")
    assert again_twice.headers["Location"].endswith(f"/s/{token}/thanks")
    assert db.session.scalar(select(func.count()).select_from(Response)) == 1
    assert len(fired) == 1
    assert db.session.scalar(select(Answer.text).where(Answer.question_id == q[7])) == "Call us."
    html = client.get(f"/s/{token}/thanks").get_data(as_text=True)
    assert "Thanks a lot." in html
    db.session.refresh(invitation)
    assert invitation.completed_at is not None
    assert invitation.started_at is not None


def test_answered_expired_and_unknown_links_each_say_what_happened(client, make_contact):
    version, invitation, token, q = _setup(make_contact)
    _finish(client, token, q)
    expired_invitation, expired_token = invite(version, make_contact(), expires_at=NOW - timedelta(days=1))
    stranger = client.application.test_client()
    answered, expired, unknown, malformed = (
        stranger.get(f"/s/{t}") for t in (token, expired_token, "A" * 43, "x")
    )
    assert answered.status_code == 200
    assert "You've already answered, thank you" in answered.get_data(as_text=True)
    assert expired.status_code == 410
    assert "This survey has closed" in expired.get_data(as_text=True)
    assert unknown.status_code == malformed.status_code == 404
    assert unknown.get_data() == malformed.get_data()
    assert "We can't find this survey link" in unknown.get_data(as_text=True)
    for page in (answered, expired):
        assert "can't find" not in page.get_data(as_text=True)
    # Nobody else sees the thank-you page (and its thank-you text) of a completed link.
    thanks = stranger.get(f"/s/{token}/thanks").get_data(as_text=True)
    assert "Thanks a lot." not in thanks
    assert "You've already answered, thank you" in thanks
    # A stranger's POST to a completed link stores nothing.
    hijack = stranger.post(f"/s/{token}", data={"page": "4", "action": "submit", f"q{q[7]}": "hijack"})
    assert "You've already answered" in hijack.get_data(as_text=True)
    assert db.session.scalar(select(Answer.text).where(Answer.question_id == q[7])) == "Call us."


def test_the_thank_you_page_says_thank_you_once(client, make_contact):
    version, invitation, token, q = _setup(make_contact)
    _finish(client, token, q)
    page = client.get(f"/s/{token}/thanks").get_data(as_text=True)
    body = page[page.index("<main") : page.index("</main>")]
    assert "Thanks a lot." in body
    text = re.sub(r"<[^>]+>", " ", body)
    assert text.lower().count("thank") == 1


def test_public_pages_are_rate_limited_per_token(make_app, make_contact):
    limited = make_app(
        RATELIMIT_ENABLED=True, SURVEY_TOKEN_RATE_LIMIT="3 per minute", SURVEY_IP_RATE_LIMIT="100 per minute"
    )
    with limited.app_context():
        version, invitation, token, q = _setup(make_contact)
    client = limited.test_client()
    codes = [client.get(f"/s/{token}").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    # Another token from the same address is still served.
    assert client.get("/s/" + "B" * 43).status_code == 404


def test_public_pages_are_rate_limited_per_ip(make_app):
    limited = make_app(RATELIMIT_ENABLED=True, SURVEY_IP_RATE_LIMIT="2 per minute")
    client = limited.test_client()
    codes = [client.get(f"/s/{c * 43}").status_code for c in "CDE"]
    assert codes == [404, 404, 429]


def test_csrf_protects_the_answer_form(make_app, make_contact):
    protected = make_app(WTF_CSRF_ENABLED=True)
    with protected.app_context():
        version, invitation, token, q = _setup(make_contact)
    client = protected.test_client()
    client.get(f"/s/{token}")
    response = client.post(f"/s/{token}", data=_page1(q))
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Answer)) == 0
    html = client.get(f"/s/{token}").get_data(as_text=True)
    csrf = html.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post(f"/s/{token}", data={**_page1(q), "csrf_token": csrf})
    assert response.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Answer)) == 2


def test_a_csrf_token_from_another_session_is_refused(make_app, make_contact):
    """Each session's token is signed once per process and reused; it is still bound to its session."""
    protected = make_app(WTF_CSRF_ENABLED=True)
    with protected.app_context():
        version, invitation, token, q = _setup(make_contact)
    mine, other = protected.test_client(), protected.test_client()

    def rendered_token(client):
        html = client.get(f"/s/{token}").get_data(as_text=True)
        return html.split('name="csrf_token" value="')[1].split('"')[0]

    first, again, others = rendered_token(mine), rendered_token(mine), rendered_token(other)
    assert first == again
    assert others != first
    assert other.post(f"/s/{token}", data={**_page1(q), "csrf_token": first}).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Answer)) == 0
    assert mine.post(f"/s/{token}", data={**_page1(q), "csrf_token": again}).status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Answer)) == 2


def test_a_survey_opens_while_another_writer_holds_the_database_and_the_open_is_recorded_later(
    make_app, make_contact
):
    import sqlite3

    from surveys.models import Invitation

    if db.engine.dialect.name != "sqlite":
        pytest.skip("one writer at a time is SQLite's limit; PostgreSQL writers do not wait on each other")
    app = make_app(SQLITE_BUSY_TIMEOUT_MS=100)
    version, invitation, token, _ = _setup(make_contact)
    other, other_token = invite(version, make_contact(first_name="Bo"))
    db.session.commit()
    blocker = sqlite3.connect(db.engine.url.database, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # a long enrollment or import holds the write lock
        response = app.test_client().get(f"/s/{token}")
        assert response.status_code == 200
        assert "Main reason?" in response.get_data(as_text=True)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    with app.app_context():
        assert db.session.get(Invitation, invitation.id).opened_at is None
        app.test_client().get(f"/s/{other_token}")  # the next page served writes what waited
        opened = {i.id: i.opened_at for i in db.session.scalars(select(Invitation))}
    assert opened[invitation.id] is not None
    assert opened[other.id] is not None


def test_the_date_hint_names_what_the_field_accepts(client, make_contact):
    version, invitation, token, q = _setup(make_contact)
    client.post(f"/s/{token}", data=_page1(q))
    client.post(f"/s/{token}", data={"page": "2", "action": "next", f"q{q[4]}": "yes"})
    html = client.get(f"/s/{token}?page=3").get_data(as_text=True)
    assert "year-month-day" not in html
    assert "placeholder" not in html  # a text fallback would show it while the picker shows another format
    assert f'<small id="q{q[5]}-format" class="help">{DATE_HINT}</small>' in html
    assert f'aria-describedby="q{q[5]}-format"' in html
    for typed, stored in (
        ("31 March 2027", "2027-03-31"),
        ("March 31, 2027", "2027-03-31"),
        ("2027-04-01", "2027-04-01"),
    ):
        response = client.post(f"/s/{token}", data={"page": "3", "action": "next", f"q{q[5]}": typed})
        assert response.status_code == 302, typed
        assert str(db.session.scalar(select(Answer.date_value).where(Answer.question_id == q[5]))) == stored
    refused = client.post(f"/s/{token}", data={"page": "3", "action": "next", f"q{q[5]}": "31/03/2027"})
    assert refused.status_code == 422
    assert str(DATE_HINT) in refused.get_data(as_text=True)
