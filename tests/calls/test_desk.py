"""The caller's desk: drafts autosaved, answers of unconnected calls discarded, callbacks in the window."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from app.auth.service import set_own_timezone
from app.db_types import utcnow
from app.errors import ValidationError
from app.extensions import db
from campaigns.calls.clocks import (
    CallbackOutsideWindow,
    both_times,
    check_callback_window,
    contact_clock,
    describe_window,
    task_window,
)
from campaigns.calls.desk import my_calls_today, talk_seconds
from campaigns.calls.dialing import DialLimits, start_call
from campaigns.calls.dispositions import dispose_call, record_disposition
from campaigns.calls.models import CallDraft, CallTask, Disposition, TaskStatus
from campaigns.calls.queue import claim_next_task
from campaigns.calls.script import save_script
from surveys.models import Response
from tests.calls.conftest import LEASE, NOW

HONOLULU = "+1808555{:04d}"


def _claim(queue, now=NOW):
    task = claim_next_task(queue.caller, now=now, lease_seconds=LEASE)
    db.session.commit()
    return task


def _task_id(location: str) -> int:
    return int(location.rsplit("/", 1)[1])


# ------------------------------------------------------------------------------------ autosave


def test_autosave_keeps_notes_callback_and_stop_after_for_a_reload_and_a_second_tab(live_queue, login):
    queue = live_queue(1)
    client = login(queue.caller)
    location = client.post("/calls/next").headers["Location"]
    saved = client.post(
        f"{location}/answers",
        data={
            "notes": "Asked about the renewal",
            "callback_at": "2030-01-02T10:30",
            "callback_zone": "mine",
            "callback_for": "anyone",
            "then": "stop",
        },
        headers={"X-Requested-With": "fetch"},
    )
    assert saved.status_code == 200
    draft = db.session.scalar(select(CallDraft))
    assert (draft.notes, draft.callback_at, draft.callback_zone, draft.callback_for, draft.stop_after) == (
        "Asked about the renewal",
        "2030-01-02T10:30",
        "mine",
        "anyone",
        True,
    )
    page = client.get(location).get_data(as_text=True)  # a reload, or a second tab
    assert ">Asked about the renewal</textarea>" in page
    assert 'value="2030-01-02T10:30"' in page
    assert 'id="stop-after" checked' in page
    assert 'value="mine" checked' in page
    assert 'value="anyone" checked' in page
    # Unticking is saved too.
    client.post(f"{location}/answers", data={"notes": "x"}, headers={"X-Requested-With": "fetch"})
    assert 'id="stop-after" checked' not in client.get(location).get_data(as_text=True)


def test_the_no_js_save_keeps_the_notes_and_a_disposition_clears_them(live_queue, login):
    queue = live_queue(1)
    client = login(queue.caller)
    location = client.post("/calls/next").headers["Location"]
    response = client.post(f"{location}/answers", data={"notes": "Typed without JS", "then": "stop"})
    assert response.status_code == 302
    assert "Typed without JS" in client.get(location).get_data(as_text=True)
    done = client.post(
        f"{location}/disposition", data={"disposition": "busy", "notes": "Typed without JS", "then": "stop"}
    )
    assert done.headers["Location"] == "/calls"  # stop after this call
    assert db.session.scalar(select(func.count()).select_from(CallDraft)) == 0


def test_a_failed_disposition_keeps_notes_and_stop_after(live_queue, login):
    queue = live_queue(1)
    client = login(queue.caller)
    location = client.post("/calls/next").headers["Location"]
    response = client.post(
        f"{location}/disposition", data={"disposition": "callback", "notes": "Call at 3", "then": "stop"}
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert '<a href="#callback_at">Say when to call back.</a>' in page
    assert ">Call at 3</textarea>" in page
    assert 'id="stop-after" checked' in page


def test_another_caller_cannot_save_a_draft_on_my_call(live_queue, login, make_user):
    from app.auth.models import Role

    queue = live_queue(1)
    task = _claim(queue, now=utcnow())
    client = login(make_user(Role.CALLER))
    response = client.post(f"/calls/tasks/{task.id}/answers", data={"notes": "mine now"})
    assert response.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(CallDraft)) == 0


# ------------------------------------------------------------------------------------- the script


def _long_text(version):
    return next(q for q in version.questions if q.kind.value == "long_text")


def test_answers_of_a_call_that_never_connected_are_discarded(make_queue, survey_version):
    queue = make_queue(1, survey_version=survey_version)
    task = _claim(queue)
    start_call(task, queue.caller, now=NOW, limits=DialLimits(), lease_seconds=LEASE)
    question = _long_text(survey_version)
    save_script(task, queue.caller, MultiDict({question.html_id: "Typed while it rang"}), now=NOW)
    db.session.commit()
    assert task.response_id is not None
    attempt = dispose_call(
        task,
        queue.caller,
        Disposition.NO_ANSWER,
        MultiDict({question.html_id: "Typed while it rang"}),
        now=NOW + timedelta(minutes=1),
        lease_seconds=LEASE,
        limits=DialLimits(),
    )
    db.session.commit()
    assert task.response_id is None
    assert attempt.response_id is None
    assert db.session.scalar(select(func.count()).select_from(Response)) == 0


def test_answers_from_an_earlier_connected_call_survive_a_later_no_answer(make_queue, survey_version):
    queue = make_queue(1, survey_version=survey_version)
    task = _claim(queue)
    question = _long_text(survey_version)
    dispose_call(
        task,
        queue.caller,
        Disposition.CALLBACK,
        MultiDict({question.html_id: "Said on the first call"}),
        now=NOW,
        lease_seconds=LEASE,
        limits=DialLimits(),
        callback_at=NOW + timedelta(hours=2),
    )
    db.session.commit()
    later = NOW + timedelta(hours=2)
    assert _claim(queue, now=later).id == task.id
    other = next(q for q in survey_version.questions if q.kind.value == "short_text" and not q.required)
    form = MultiDict({question.html_id: "Said on the first call", other.html_id: "Typed while it rang"})
    save_script(task, queue.caller, form, now=later)  # the page posts every answer, changed or not
    db.session.commit()
    dispose_call(
        task, queue.caller, Disposition.BUSY, MultiDict(), now=later, lease_seconds=LEASE, limits=DialLimits()
    )
    db.session.commit()
    response = db.session.get(Response, task.response_id)
    assert {a.question_id: a.text for a in response.answers} == {question.id: "Said on the first call"}


def test_completed_with_a_required_answer_missing_names_the_question_with_a_link(
    live_queue, login, survey_version
):
    queue = live_queue(1, survey_version=survey_version)
    client = login(queue.caller)
    location = client.post("/calls/next").headers["Location"]
    page = client.post(f"{location}/disposition", data={"disposition": "completed"}).get_data(as_text=True)
    first_required = next(q for q in survey_version.questions if q.required)
    assert f'<a href="#{first_required.html_id}' in page
    assert f"Answer “{first_required.text}”." in page


def test_the_follow_up_is_in_the_page_hidden_until_yes_and_shown_by_a_no_js_save(
    live_queue, login, survey_version
):
    queue = live_queue(1, survey_version=survey_version)
    client = login(queue.caller)
    location = client.post("/calls/next").headers["Location"]
    trigger = next(q for q in survey_version.questions if q.kind.value == "yes_no")
    follow_up = next(q for q in survey_version.questions if q.show_if_question_id == trigger.id)
    marker = f'data-show-if="{trigger.html_id}" data-show-if-value="yes" hidden'
    assert marker in client.get(location).get_data(as_text=True)
    client.post(f"{location}/answers", data={trigger.html_id: "yes"})
    page = client.get(location).get_data(as_text=True)
    assert f'data-show-if="{trigger.html_id}" data-show-if-value="yes">' in page
    assert follow_up.text in page


# ------------------------------------------------------------------------------------------ clocks


def test_a_callback_outside_the_window_is_refused_with_the_next_allowed_time(make_queue):
    queue = make_queue(1, calling_days=[0, 1, 2, 3, 4])  # New York, 9:00–17:00, Monday to Friday
    task = _claim(queue)
    new_york = ZoneInfo("America/New_York")
    evening = datetime(2026, 11, 18, 22, 0, tzinfo=new_york)  # Wednesday 22:00 their time
    with pytest.raises(CallbackOutsideWindow) as refused:
        record_disposition(
            task, queue.caller, Disposition.CALLBACK, now=NOW, lease_seconds=LEASE, callback_at=evening
        )
    assert refused.value.next_allowed == datetime(2026, 11, 19, 9, 0, tzinfo=new_york)
    assert "outside the calling window (Mon–Fri, 09:00–17:00" in refused.value.message
    assert "The next allowed time is Thu 19 Nov 09:00 there." in refused.value.message
    saturday = datetime(2026, 11, 21, 10, 0, tzinfo=new_york)
    with pytest.raises(CallbackOutsideWindow) as weekend:
        check_callback_window(task, saturday)
    assert weekend.value.next_allowed == datetime(2026, 11, 23, 9, 0, tzinfo=new_york)
    morning = datetime(2026, 11, 19, 10, 0, tzinfo=new_york)
    record_disposition(
        task, queue.caller, Disposition.CALLBACK, now=NOW, lease_seconds=LEASE, callback_at=morning
    )
    assert task.callback_at == morning


def test_a_callback_is_read_in_the_contacts_time_unless_the_caller_picks_theirs(live_queue, login):
    queue = live_queue(1)
    zone = ZoneInfo(queue.contacts[0].timezone)
    client = login(queue.caller)
    location = client.post("/calls/next").headers["Location"]
    tomorrow = (utcnow().astimezone(zone) + timedelta(days=1)).date()
    response = client.post(
        f"{location}/disposition",
        data={"disposition": "callback", "callback_at": f"{tomorrow}T22:00", "notes": "Late caller"},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "is outside the calling window" in page
    following = tomorrow + timedelta(days=1)
    assert f'value="{following}T08:00"' in page  # the next allowed time, filled in
    assert ">Late caller</textarea>" in page
    booked = client.post(
        f"{location}/disposition",
        data={"disposition": "callback", "callback_at": f"{following}T08:00", "then": "stop"},
    )
    assert booked.status_code == 302
    task = db.session.get(CallTask, _task_id(location))
    assert task.callback_at == datetime.combine(following, time(8, 0), tzinfo=zone)


def test_the_contacts_clock_says_the_local_time_and_when_the_window_closes(make_queue):
    make_queue(
        1,
        phones=[HONOLULU.format(100)],
        calling_window_start=time(9, 0),
        calling_window_end=time(21, 0),
        calling_days=list(range(7)),
        fill=True,
    )
    task = db.session.scalar(select(CallTask))
    at = datetime(2026, 11, 19, 0, 5, tzinfo=UTC)  # 14:05 in Honolulu
    assert contact_clock(task, now=at).text(at) == "14:05 in Honolulu · window closes in 6 h 55"
    before = datetime(2026, 11, 18, 17, 0, tzinfo=UTC)  # 7:00 there
    assert contact_clock(task, now=before).text(before) == "07:00 in Honolulu · window opens in 2 h 00"
    assert describe_window(task_window(task)) == "Mon–Sun, 09:00–21:00"
    evening = datetime(2026, 11, 19, 1, 0, tzinfo=UTC)
    assert (
        both_times(task, evening, "Europe/Paris") == "Wed 18 Nov 15:00 in Honolulu · Thu 19 Nov 02:00 yours"
    )


def test_callback_lists_show_the_contacts_time_and_mine(make_queue, login):
    queue = make_queue(1)
    task = _claim(queue)
    set_own_timezone(queue.caller, "Europe/Paris")
    record_disposition(
        task,
        queue.caller,
        Disposition.CALLBACK,
        now=NOW,
        lease_seconds=LEASE,
        callback_at=datetime(2026, 11, 18, 18, 0, tzinfo=UTC),
    )
    db.session.commit()
    page = login(queue.caller).get("/calls").get_data(as_text=True)
    assert "Wed 18 Nov 13:00 in New York · 19:00 yours" in page


def test_a_users_own_time_zone_wins_over_the_browsers(make_user, login):
    user = make_user()
    client = login(user)
    assert client.post("/account/time-zone", data={"timezone": "Pacific/Honolulu"}).status_code == 204
    assert (user.timezone, user.timezone_auto) == ("Pacific/Honolulu", True)
    assert client.post("/account/profile", data={"timezone": "Europe/Paris"}).status_code == 302
    assert client.post("/account/time-zone", data={"timezone": "Asia/Tokyo"}).status_code == 204
    db.session.refresh(user)
    assert (user.timezone, user.timezone_auto) == ("Europe/Paris", False)
    assert client.post("/account/time-zone", data={"timezone": "Mars/Olympus"}).status_code == 422
    with pytest.raises(ValidationError):
        set_own_timezone(user, "Nowhere")


def test_the_campaign_summary_shows_calling_days_and_hours(make_queue, login, make_user):
    queue = make_queue(0, phones=[], calling_days=[0, 2, 4])
    page = login(make_user()).get(f"/campaigns/{queue.campaign.id}").get_data(as_text=True)
    assert "Mon, Wed, Fri, 09:00–17:00, the contact" in page


# ------------------------------------------------------------------------------------ my calls today


def test_my_calls_today_lists_my_attempts_since_my_midnight_with_talk_time(make_queue):
    queue = make_queue(1)
    task = _claim(queue)
    attempt = start_call(task, queue.caller, now=NOW, limits=DialLimits(), lease_seconds=LEASE)
    attempt.answered_at = NOW + timedelta(seconds=10)
    record_disposition(
        task, queue.caller, Disposition.NOT_INTERESTED, now=NOW + timedelta(seconds=200), lease_seconds=LEASE
    )
    db.session.commit()
    assert task.status is TaskStatus.DONE
    assert talk_seconds(attempt) == 190
    attempt.duration_seconds = 185  # Twilio's figure wins once known
    assert talk_seconds(attempt) == 185
    assert my_calls_today(queue.caller, now=NOW + timedelta(hours=1)) == [attempt]
    assert my_calls_today(queue.caller, now=NOW + timedelta(days=1)) == []
