"""One save path for the survey pages: answer_page (fast Core path and ORM path) and the frozen cache."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta

import pytest
from sqlalchemy import bindparam, select
from werkzeug.datastructures import MultiDict

from app.database import DriverQuery
from app.extensions import db
from surveys import answering, cache
from surveys.answering import LinkState, Outcome, answer_page
from surveys.builder import editable_version
from surveys.models import Answer, Response, ResponseStatus, SurveyVersion
from tests.survey_helpers import NOW, invite, published_survey, question_ids


def _page1(q, **extra):
    return MultiDict({"page": "1", "action": "next", f"q{q[0]}": "price", f"q{q[1]}": "support", **extra})


@pytest.fixture
def link(make_contact):
    version = published_survey().published
    invitation, token = invite(version, make_contact())
    return version, invitation, token, question_ids(version)


def test_answer_page_starts_the_response_then_moves_page_by_page(link):
    version, invitation, token, q = link
    first = answer_page(token, _page1(q), now=NOW)  # no response yet: the ORM path creates it
    db.session.commit()
    assert (first.outcome, first.page) == (Outcome.MOVED, 2)
    second = answer_page(
        token, MultiDict({"page": "2", "action": "next", f"q{q[4]}": "yes", f"q{q[3]}": "8"}), now=NOW
    )
    db.session.commit()
    assert (second.outcome, second.page) == (Outcome.MOVED, 3)  # the logic revealed page 3
    back = answer_page(token, MultiDict({"page": "3", "action": "back", f"q{q[5]}": "2027-03-31"}), now=NOW)
    db.session.commit()
    assert (back.outcome, back.page) == (Outcome.MOVED, 2)
    response = db.session.scalar(select(Response))
    assert (response.current_page, response.furthest_page) == (2, 3)
    stored = {a.question_id: a for a in db.session.scalars(select(Answer))}
    assert stored[q[3]].number == 8
    assert str(stored[q[5]].date_value) == "2027-03-31"


def test_answer_page_reports_errors_and_keeps_the_valid_answers(link):
    version, invitation, token, q = link
    answer_page(token, _page1(q), now=NOW)
    db.session.commit()
    result = answer_page(token, MultiDict({"page": "2", "action": "next", f"q{q[3]}": "7"}), now=NOW)
    db.session.commit()
    assert result.outcome is Outcome.INVALID
    assert result.page == 2
    assert result.errors == {q[4]: "This question needs an answer."}
    assert db.session.scalar(select(Answer.number).where(Answer.question_id == q[3])) == 7


def test_answer_page_completes_once_and_then_says_the_link_was_answered(link):
    version, invitation, token, q = link
    answer_page(token, _page1(q), now=NOW)
    answer_page(token, MultiDict({"page": "2", "action": "next", f"q{q[4]}": "no"}), now=NOW)
    done = answer_page(token, MultiDict({"page": "4", "action": "submit"}), now=NOW)
    db.session.commit()
    assert done.outcome is Outcome.COMPLETED
    assert db.session.scalar(select(Response.status)) is ResponseStatus.COMPLETE
    again = answer_page(token, MultiDict({"page": "4", "action": "submit"}), now=NOW)
    assert (again.outcome, again.state) == (Outcome.UNAVAILABLE, LinkState.ANSWERED)


def test_answer_page_refuses_unknown_and_expired_links(link, make_contact):
    version, invitation, token, q = link
    assert answer_page("A" * 43, _page1(q), now=NOW).state is LinkState.UNKNOWN
    assert answer_page(token, _page1(q), now=NOW).outcome is Outcome.MOVED
    db.session.commit()
    invitation.expires_at = NOW + timedelta(hours=1)
    db.session.commit()
    late = answer_page(token, _page1(q), now=NOW + timedelta(hours=2))
    assert (late.outcome, late.state) == (Outcome.UNAVAILABLE, LinkState.CLOSED)


def test_a_nonsense_page_number_is_not_an_error(link):
    version, invitation, token, q = link
    for raw in ("²", "9" * 40, "-1", ""):
        result = answer_page(token, _page1(q, page=raw), now=NOW)
        assert result.outcome in (Outcome.MOVED, Outcome.INVALID)
        db.session.rollback()


def test_the_cache_holds_frozen_dataclasses_not_orm_objects(link, app):
    version, invitation, token, q = link
    frozen = cache.frozen_version(version.id)
    assert not isinstance(frozen, SurveyVersion)
    assert dataclasses.is_dataclass(frozen)
    assert [question.id for question in frozen.questions] == q
    with pytest.raises(dataclasses.FrozenInstanceError):
        frozen.title = "changed"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        frozen.questions[0].text = "changed"  # type: ignore[misc]
    assert frozen.questions[0].option_by_value("price").label == "Price"
    assert [len(page) for page in frozen.pages()] == [len(page) for page in version.pages()]
    # Every thread sees the very same object, and nothing of it belongs to a session.
    seen = []

    def read():
        with app.app_context():
            seen.append(cache.frozen_version(version.id))

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(item is frozen for item in seen)


def test_each_app_keeps_its_own_cache(link, make_app):
    version, invitation, token, q = link
    cache.frozen_version(version.id)
    other = make_app()
    with other.app_context():
        assert cache.peek(version.id) is None


def test_drafts_are_never_cached(make_contact):
    survey = published_survey()
    draft = editable_version(survey, now=NOW)
    db.session.commit()
    assert cache.frozen_version(draft.id) is db.session.get(SurveyVersion, draft.id)
    assert cache.peek(draft.id) is None


def test_the_link_read_on_the_drivers_cursor_returns_what_sqlalchemy_returns(link):
    """Dates, enums, JSON choices and numbers converted by the column types alike, on both databases."""
    version, invitation, token, q = link
    answer_page(token, _page1(q, **{f"q{q[1]}-other": "Their app"}), now=NOW)
    db.session.commit()
    page2 = {"page": "2", "action": "next", f"q{q[4]}": "yes", f"q{q[3]}": "8"}
    answer_page(token, MultiDict(page2), now=NOW)
    db.session.commit()
    answer_page(token, MultiDict({"page": "3", "action": "next", f"q{q[5]}": "2027-03-31"}), now=NOW)
    db.session.commit()
    token_hash = answering._token_hash(token)
    with db.engine.connect() as connection:
        driver_rows = answering._READ.rows(connection, token_hash=token_hash)
        core_rows = connection.execute(answering._READ.statement, {"token_hash": token_hash}).all()
        invitation_row, response_row = answering.read_link(token, connection)
    assert len(driver_rows) == 5  # one row per answer
    assert driver_rows == [tuple(row) for row in core_rows]
    assert invitation_row.channel is invitation.channel
    assert invitation_row.opened_at is None
    assert response_row.status is ResponseStatus.IN_PROGRESS
    assert response_row.values[q[0]].choices == ["price"]
    assert str(response_row.values[q[5]].date_value) == "2027-03-31"
    assert response_row.values[q[3]].number == 8


def test_the_drivers_cursor_refuses_a_parameter_that_needs_converting(app):
    query = DriverQuery(select(Response.id).where(Response.updated_at > bindparam("since")))
    with db.engine.connect() as connection, pytest.raises(TypeError, match="since"):
        query.rows(connection, since=NOW)
