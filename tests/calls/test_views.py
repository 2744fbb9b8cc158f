"""The caller's pages, the supervisor's, and the calls CLI."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.auth.models import Role
from app.db_types import utcnow
from app.extensions import db
from campaigns.calls.models import CallAttempt, CallTask, Disposition, TaskStatus
from campaigns.calls.queue import claim_next_task
from surveys.models import Response, ResponseChannel
from tests.calls.conftest import LEASE


def test_a_callers_home_page_is_their_queue(live_queue, login):
    queue = live_queue()
    client = login(queue.caller)
    assert client.get("/").headers["Location"] == "/calls"
    page = client.get("/calls").get_data(as_text=True)
    assert "Next call" in page
    assert queue.campaign.name in page


def test_next_call_redirects_to_the_task_and_again_to_the_same_one(live_queue, login):
    queue = live_queue()
    client = login(queue.caller)
    first = client.post("/calls/next")
    assert first.status_code == 302
    assert first.headers["Location"].startswith("/calls/tasks/")
    assert client.post("/calls/next").headers["Location"] == first.headers["Location"]
    page = client.get(first.headers["Location"]).get_data(as_text=True)
    assert "Price" in page  # what sales recorded
    assert "Globex" in page
    assert "$30,000" in page


def test_next_call_with_nothing_due_says_so(make_queue, login):
    queue = make_queue(0, phones=[])
    client = login(queue.caller)
    response = client.post("/calls/next", follow_redirects=True)
    assert "Nobody is due for a call right now" in response.get_data(as_text=True)


def test_without_twilio_the_screen_shows_the_number_to_dial_by_hand(live_queue, login):
    queue = live_queue(1)
    client = login(queue.caller)
    location = client.post("/calls/next").headers["Location"]
    task_id = int(location.rsplit("/", 1)[1])
    page = client.post(f"{location}/dial", follow_redirects=True).get_data(as_text=True)
    phone = db.session.get(CallTask, task_id).contact.phone
    assert f"Dial {phone} by hand" in page
    assert db.session.scalar(select(CallAttempt.phone)) == phone


def test_answers_are_autosaved_as_a_phone_response_and_shown_after_a_reload(
    live_queue, login, survey_version
):
    queue = live_queue(1, survey_version=survey_version)
    client = login(queue.caller)
    location = client.post("/calls/next").headers["Location"]
    question = next(q for q in survey_version.questions if q.kind.value == "long_text")
    saved = client.post(
        f"{location}/answers",
        data={question.html_id: "They never called us back"},
        headers={"X-Requested-With": "fetch"},
    )
    assert saved.status_code == 200
    assert saved.get_json()["errors"] == {}
    response = db.session.scalar(select(Response))
    assert response.channel is ResponseChannel.PHONE
    assert "They never called us back" in client.get(location).get_data(as_text=True)
    # The no-JS button saves the same way.
    assert client.post(f"{location}/answers", data={question.html_id: "Changed"}).status_code == 302
    assert "Changed" in client.get(location).get_data(as_text=True)


def test_a_disposition_from_the_screen_moves_on_to_the_next_call(live_queue, login):
    queue = live_queue(2)
    client = login(queue.caller)
    first = client.post("/calls/next").headers["Location"]
    response = client.post(f"{first}/disposition", data={"disposition": "no_answer", "notes": "Rang out"})
    assert (response.status_code, response.headers["Location"]) == (307, "/calls/next")
    following = client.post(response.headers["Location"])
    assert following.headers["Location"].startswith("/calls/tasks/")
    assert following.headers["Location"] != first
    assert db.session.scalar(select(CallAttempt.disposition)) is Disposition.NO_ANSWER


def test_a_refused_disposition_keeps_what_the_caller_typed(live_queue, login):
    queue = live_queue(1)
    client = login(queue.caller)
    location = client.post("/calls/next").headers["Location"]
    response = client.post(f"{location}/disposition", data={"disposition": "callback", "notes": "Call at 3"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Say when to call back" in page
    assert "Call at 3" in page


def test_an_unknown_disposition_is_a_bad_request(live_queue, login):
    queue = live_queue(1)
    client = login(queue.caller)
    location = client.post("/calls/next").headers["Location"]
    assert client.post(f"{location}/disposition", data={"disposition": "hang_up"}).status_code == 400


def test_a_caller_cannot_open_another_callers_call(live_queue, login, make_user, app):
    queue = live_queue(1)
    task = claim_next_task(queue.caller, now=utcnow(), lease_seconds=LEASE)
    db.session.commit()
    other = make_user(Role.CALLER)
    client = login(other)
    assert client.get(f"/calls/tasks/{task.id}").status_code == 403
    assert client.post(f"/calls/tasks/{task.id}/disposition", data={"disposition": "busy"}).status_code == 403


def test_next_call_needs_a_csrf_token(live_queue, make_app):
    import re

    queue = live_queue(1)
    csrf_app = make_app(WTF_CSRF_ENABLED=True)
    client = csrf_app.test_client()
    pattern = r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"'
    login_token = re.search(pattern, client.get("/login").get_data(as_text=True)).group(1)
    data = {"email": queue.caller.email, "password": "correct horse battery", "csrf_token": login_token}
    assert client.post("/login", data=data).headers["Location"] == "/calls"
    token = re.search(pattern, client.get("/calls").get_data(as_text=True)).group(1)
    assert client.post("/calls/next").status_code == 400
    assert client.post("/calls/next", data={"csrf_token": token}).status_code == 302


def test_the_supervisor_sees_counts_releases_leases_and_reassigns_callbacks(live_queue, login, make_user):
    queue = live_queue(2)
    task = claim_next_task(queue.caller, now=utcnow(), lease_seconds=LEASE)
    db.session.commit()
    admin = make_user(Role.ADMIN)
    client = login(admin)
    page = client.get("/calls/supervisor").get_data(as_text=True)
    assert "stuck: unknown time zone" in page
    assert queue.caller.name in page
    assert client.post(f"/calls/supervisor/tasks/{task.id}/release").status_code == 302
    db.session.expire_all()
    assert db.session.get(CallTask, task.id).status is TaskStatus.READY
    other = db.session.scalars(select(CallTask).where(CallTask.id != task.id)).one()
    other.callback_at = utcnow() + timedelta(hours=1)
    other.callback_owner_id = queue.caller.id
    colleague = make_user(Role.CALLER)
    db.session.commit()
    client.post(f"/calls/supervisor/tasks/{other.id}/reassign", data={"owner_id": colleague.id})
    db.session.expire_all()
    assert db.session.get(CallTask, other.id).callback_owner_id == colleague.id


def test_callers_cannot_open_the_supervisor_view(live_queue, login):
    queue = live_queue(1)
    assert login(queue.caller).get("/calls/supervisor").status_code == 403


# ------------------------------------------------------------------------------------------------ CLI


def test_calls_fill_and_stats_print_json(make_queue, runner):
    queue = make_queue(3, fill=False)
    result = runner.invoke(args=["calls", "fill", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["created"] == 3
    again = runner.invoke(args=["calls", "fill", "--campaign", str(queue.campaign.id), "--json"])
    assert json.loads(again.output)["created"] == 0
    stats = json.loads(runner.invoke(args=["calls", "stats", "--json"]).output)
    assert set(stats) >= {
        "ready_now",
        "waiting_for_hours",
        "leased",
        "callbacks_due",
        "exhausted",
        "unknown_time_zone",
    }
    assert sum(stats.values()) == 3


def test_calls_assign_adds_callers_to_calls_campaigns(make_queue, make_user, runner):
    queue = make_queue(0, phones=[])
    newcomer = make_user(Role.CALLER)
    result = runner.invoke(args=["calls", "assign", newcomer.email, "--campaign", str(queue.campaign.id)])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert newcomer in queue.campaign.callers
    analyst = make_user(Role.ANALYST)
    refused = runner.invoke(args=["calls", "assign", analyst.email])
    assert refused.exit_code != 0
    assert "not an active caller" in refused.output
    assert runner.invoke(args=["calls", "fill", "--campaign", "999"]).exit_code != 0


def test_a_refused_dial_says_why_and_takes_the_call_off_the_queue(live_queue, login):
    from app.messaging.channels import Channel
    from app.messaging.service import opt_out_contact

    queue = live_queue(1)
    client = login(queue.caller)
    location = client.post("/calls/next").headers["Location"]
    task = db.session.get(CallTask, int(location.rsplit("/", 1)[1]))
    opt_out_contact(task.contact, Channel.CALL, source="test", now=utcnow())
    db.session.commit()
    response = client.post(f"{location}/dial", follow_redirects=True)
    assert "This call was closed" in response.get_data(as_text=True)
    assert db.session.scalar(select(CallAttempt)) is None


def test_the_campaign_page_sets_the_call_rules(make_user, login):
    from campaigns.models import Campaign
    from tests.campaigns.test_views import FORM

    client = login(make_user(Role.ADMIN))
    data = {
        **FORM,
        "kind": "call",
        "calling_days": ["0", "1", "2", "3", "4", "5"],
        "call_max_per_day": "3",
        "cap_no_answer": "6",
        "callback_release_minutes": "45",
        "call_after_survey_days": "5",
        "call_recording": "y",
    }
    assert client.post("/campaigns/new", data=data).status_code == 302
    campaign = db.session.scalars(select(Campaign)).one()
    assert campaign.calling_days == [0, 1, 2, 3, 4, 5]
    assert campaign.call_max_per_day == 3
    assert campaign.call_outcome_caps == {"no_answer": 6}
    assert campaign.callback_release_minutes == 45
    assert campaign.call_after_survey_days == 5
    assert campaign.call_recording is True
    early = client.post("/campaigns/new", data={**data, "name": "Too early", "calling_window_start": "07:30"})
    assert early.status_code == 422
    assert "Nobody is called before 8:00" in early.get_data(as_text=True)


@pytest.mark.parametrize(
    "query", ["end=9999-12-31", "end=0001-01-01", "start=0001-01-01&end=0001-01-03", "start=9999-12-31"]
)
def test_the_supervisor_page_keeps_to_real_dates(login, make_user, query):
    """A period at the ends of the calendar falls back to the last seven days instead of overflowing."""
    client = login(make_user(Role.ADMIN))
    response = client.get(f"/calls/supervisor?{query}")
    assert response.status_code == 200
