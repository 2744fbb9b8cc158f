"""Handling time runs from the connect to the disposition, per call; talk time is Twilio's duration."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

from app.auth.models import Role
from app.extensions import db
from app.reports.callers import callers_report
from campaigns.calls import reports
from campaigns.calls.dialing import DialLimits, mark_connected, start_call
from campaigns.calls.dispositions import record_disposition
from campaigns.calls.models import Disposition
from campaigns.calls.queue import claim_next_task
from tests.calls.conftest import LEASE, NOW
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def _call(queue, *, connect_after: float | None, dispose_after: float, duration: int | None = None):
    task = claim_next_task(queue.caller, now=NOW, lease_seconds=LEASE)
    attempt = start_call(task, queue.caller, now=NOW, limits=DialLimits(), lease_seconds=LEASE)
    if connect_after is not None:
        mark_connected(attempt, "phone", now=NOW + timedelta(seconds=connect_after))
    attempt.duration_seconds = duration
    record_disposition(
        task,
        queue.caller,
        Disposition.NOT_INTERESTED,
        now=NOW + timedelta(seconds=dispose_after),
        lease_seconds=LEASE,
    )
    db.session.commit()
    return attempt


def test_handling_runs_from_the_connect_to_the_disposition(make_queue):
    queue = make_queue(3)
    _call(queue, connect_after=20, dispose_after=200, duration=150)  # 180 s
    _call(queue, connect_after=0, dispose_after=60, duration=None)  # 60 s, Twilio gave no duration
    _call(queue, connect_after=None, dispose_after=5)  # never connected: no handling time
    (row,) = reports.caller_figures(start=NOW - timedelta(hours=1), end=NOW + timedelta(hours=1))
    assert row.calls == 3
    assert row.handling_seconds == 120.0  # (180 + 60) / 2: the call never connected is left out
    assert row.talk_seconds == 150
    per_call = sorted(
        reports.handling_seconds(a.connected_at, a.disposed_at)
        for a in reports.recent_calls(start=NOW - timedelta(hours=1), end=NOW + timedelta(hours=1))
        if a.connected_at
    )
    assert per_call == [60.0, 180.0]
    # The callers report shows the same figure, from the same function.
    (report_row,) = callers_report(NOW.date(), NOW.date())
    assert report_row.handling_seconds == row.handling_seconds == 120.0


def test_the_supervisor_page_shows_each_calls_handling_and_talk_time(make_queue, make_user, app):
    queue = make_queue(1)
    _call(queue, connect_after=20, dispose_after=200, duration=150)
    admin = make_user(Role.ADMIN)
    client = app.test_client()
    client.post("/login", data={"email": admin.email, "password": PASSWORD})
    page = client.get(f"/calls/supervisor?start={NOW.date()}&end={NOW.date()}").get_data(as_text=True)
    row = re.search(
        r"<td>Not interested</td>\s*<td class=\"num\">([^<]+)</td>\s*<td class=\"num\">([^<]+)</td>", page
    )
    assert row is not None, page
    assert row.groups() == ("180.0", "150")


def test_the_voice_sdk_served_from_static_is_the_pinned_version():
    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"]["@twilio/voice-sdk"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned)  # an exact version, not a range
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/@twilio/voice-sdk"]["version"] == pinned
    bundle = ROOT / "app/static/vendor/twilio-voice/twilio.min.js"
    assert f'"{pinned}"' in bundle.read_text(encoding="utf-8")
    assert "Apache" in (ROOT / "app/static/vendor/twilio-voice/LICENSE.md").read_text(encoding="utf-8")
