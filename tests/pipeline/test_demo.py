"""`demo load` gives every pipeline page something to show."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.auth.models import Role, User
from app.extensions import db
from app.pipeline.models import SalesTeam


def test_demo_load_produces_pending_accepted_exported_won_and_rejected_requalifications(
    demo, runner, client, login
):
    stats = json.loads(runner.invoke(args=["pipeline", "stats", "--json"]).output.strip().splitlines()[-1])
    assert stats["pending"] >= 3
    assert stats["accepted"] == 5  # one won back per demo campaign, one lost again, two open
    assert stats["exported"] == 3
    assert stats["rejected"] == 2
    assert stats["recycled_won"] == 2
    assert stats["recovered_revenue"] != "0.00"
    manager = db.session.scalar(select(User).where(User.role == Role.SALES_MANAGER))
    assert db.session.get(SalesTeam, manager.id).owners
    login(manager, password=_demo_password(runner, manager))
    assert "WB-" in client.get("/pipeline/review?team=all").get_data(as_text=True)
    assert "Won" in client.get("/pipeline/recycled").get_data(as_text=True)


def _demo_password(runner, user) -> str:
    logins = runner.invoke(args=["demo", "logins"]).output
    line = next(line for line in logins.splitlines() if user.email in line)
    return line.split()[-1]
