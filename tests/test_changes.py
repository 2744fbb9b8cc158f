"""domain_change: a page's change is committed when it works, rolled back and explained when not."""

from __future__ import annotations

from flask import get_flashed_messages
from sqlalchemy import select

from app.changes import domain_change
from app.crm.models import Competitor
from app.errors import DomainError
from app.extensions import db


def test_a_working_change_is_committed(app):
    with app.test_request_context("/"):
        with domain_change() as change:
            db.session.add(Competitor(name="Kept"))
        db.session.rollback()  # nothing left to undo: it was committed

        assert change
        assert db.session.scalar(select(Competitor.name)) == "Kept"
        assert get_flashed_messages() == []


def test_a_refused_change_is_rolled_back_and_its_message_flashed(app):
    with app.test_request_context("/"):
        with domain_change() as change:
            db.session.add(Competitor(name="Dropped"))
            db.session.flush()
            raise DomainError("That competitor is merged already")

        assert not change
        assert db.session.scalar(select(Competitor.name)) is None
        assert get_flashed_messages(with_categories=True) == [("error", "That competitor is merged already")]
