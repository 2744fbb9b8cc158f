"""The demo gives the caller at least 20 calls to take at once, whatever the day and time it is loaded."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.auth.models import Role, User
from app.demo.service import load_demo
from app.extensions import db
from campaigns.calls.queue import claim_next_task, queue_counts


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 11, 21, 3, 0, tzinfo=UTC),  # Saturday, 3:00 UTC
        datetime(2026, 11, 22, 12, 0, tzinfo=UTC),  # Sunday noon UTC
        datetime(2026, 11, 18, 20, 30, tzinfo=UTC),  # Wednesday evening UTC
        datetime(2026, 7, 1, 9, 15, tzinfo=UTC),  # a summer morning (DST in both hemispheres' zones)
    ],
)
def test_demo_load_leaves_at_least_20_calls_due_now_for_the_demo_caller(now):
    load_demo(seed=2026, today=now.date(), now=now)
    db.session.commit()
    assert queue_counts(now=now).ready_now >= 20
    caller = db.session.scalar(select(User).where(User.role == Role.CALLER))
    assert claim_next_task(caller, now=now) is not None
