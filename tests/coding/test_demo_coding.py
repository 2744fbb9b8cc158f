"""The demo gives every coding page something to show: coded comments, a double-coded sample that
disagrees once, and comments still waiting in the workbench."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.auth.models import Role, User
from app.coding import service
from app.extensions import db


def test_demo_load_codes_comments_twice_with_one_disagreement_and_leaves_some_to_code(demo, runner):
    agreement = json.loads(runner.invoke(args=["coding", "agreement", "--json"]).output)
    assert 0 < agreement["overall"]["kappa"] < 1
    assert agreement["codes"]["price.too_high"]["kappa"] == 1.0
    assert agreement["codes"]["sales.responsiveness"]["kappa"] < 1
    analyst = db.session.scalar(select(User).where(User.role == Role.ANALYST))
    assert service.next_answer_id(service.QueueFilter(), coder_id=analyst.id) is not None
