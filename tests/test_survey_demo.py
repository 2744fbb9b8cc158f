"""`demo load` publishes the win/loss survey with invitations and answers, and prints a working link."""

from __future__ import annotations

from sqlalchemy import func, select

from app.auth.models import Role
from app.db_types import utcnow
from app.extensions import db
from surveys.models import Answer, Invitation, Response, ResponseStatus, Survey


def test_demo_load_prints_a_working_survey_link(demo, app, make_user, login):
    lines = [line for line in demo.output.splitlines() if line.startswith("Survey link: ")]
    assert len(lines) == 1
    link = lines[0].removeprefix("Survey link: ")
    assert link.startswith(app.config["PUBLIC_BASE_URL"] + "/s/")
    survey = db.session.scalar(select(Survey))
    assert survey.published is not None
    statuses = db.session.scalars(select(Response.status)).all()
    assert statuses.count(ResponseStatus.COMPLETE) >= 5
    assert statuses.count(ResponseStatus.IN_PROGRESS) >= 3
    invitations = db.session.scalars(select(Invitation)).all()
    assert all(i.opportunity.stage == "Closed Lost" for i in invitations)
    # The printed link opens the survey for its customer.
    client = app.test_client()
    page = client.get(link.removeprefix(app.config["PUBLIC_BASE_URL"]))
    assert page.status_code == 200
    assert "What was the main reason you chose another option?" in page.get_data(as_text=True)
    # And the responses page has realistic content.
    analyst = db.session.scalar(select(func.count()).select_from(Invitation))
    assert analyst >= 20
    staff = login(make_user(Role.ANALYST))
    html = staff.get(f"/surveys/{survey.id}/responses").get_data(as_text=True)
    assert "Invitation funnel" in html
    assert "Price" in html


def test_demo_logins_prints_a_fresh_unanswered_survey_link_every_time(own_demo, runner, app):
    links = []
    for _ in range(2):
        result = runner.invoke(args=["demo", "logins"])
        assert result.exit_code == 0, result.output
        assert "@winback.demo" in result.output
        lines = [
            line for line in result.output.splitlines() if line.startswith("Survey link (new, unanswered): ")
        ]
        assert len(lines) == 1
        links.append(lines[0].rsplit(" ", 1)[1])

    assert links[0] != links[1]
    client = app.test_client()
    for link in links:
        assert link.startswith(app.config["PUBLIC_BASE_URL"] + "/s/")
        page = client.get(link.removeprefix(app.config["PUBLIC_BASE_URL"]))
        assert page.status_code == 200
        assert "What was the main reason you chose another option?" in page.get_data(as_text=True)
    db.session.expire_all()
    fresh = db.session.scalars(select(Invitation).order_by(Invitation.id.desc()).limit(2)).all()
    assert all(i.completed_at is None and i.sent_at is None for i in fresh)


def test_make_run_on_a_loaded_database_prints_a_fresh_link_too(own_demo, runner):
    again = runner.invoke(args=["demo", "load", "--if-empty"])
    assert "Survey link (new, unanswered): " in again.output


def test_demo_data_never_holds_responses_dated_in_the_future(demo):
    now = utcnow()
    columns = [
        Response.started_at,
        Response.updated_at,
        Response.completed_at,
        Answer.updated_at,
        Invitation.sent_at,
        Invitation.opened_at,
        Invitation.started_at,
        Invitation.completed_at,
    ]
    future = {
        f"{column.class_.__name__}.{column.key}": db.session.scalar(select(func.count()).where(column > now))
        for column in columns
    }
    assert future == dict.fromkeys(future, 0)
    assert db.session.scalar(select(func.count()).select_from(Response)) > 0
