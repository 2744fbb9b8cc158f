"""Record that a respondent opened their survey link, without ever failing the page over it.

On SQLite one writer at a time holds the database; a long write elsewhere (an enrollment chunk, an
import) can outlast the busy timeout. Opening a survey must still show the survey: the time is kept
in memory and written by the next survey page this process serves.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from flask import current_app
from sqlalchemy import bindparam, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from surveys.models import Invitation

log = logging.getLogger("winback.surveys")

PENDING_KEY = "winback.surveys.pending_opens"
_INVITATIONS = Invitation.__table__
_OPENED = (
    update(_INVITATIONS)
    .where(_INVITATIONS.c.id == bindparam("b_id"), _INVITATIONS.c.opened_at.is_(None))
    .values(opened_at=bindparam("b_now", type_=_INVITATIONS.c.opened_at.type))
)


class PendingOpens:
    """Opens that could not be written yet: invitation id -> first time seen."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.opens: dict[int, datetime] = {}

    def add(self, invitation_id: int, now: datetime) -> None:
        with self.lock:
            self.opens.setdefault(invitation_id, now)

    def take(self) -> dict[int, datetime]:
        with self.lock:
            opens, self.opens = self.opens, {}
            return opens


def pending_opens() -> PendingOpens:
    return current_app.extensions.setdefault(PENDING_KEY, PendingOpens())


def record_opened(connection: Connection, invitation_id: int | None, now: datetime) -> bool:
    """Set opened_at (first open only) with any opens left over; commit. False if it must wait.

    `invitation_id` None only writes the leftovers. Never raises for a busy database.
    """
    pending = pending_opens()
    opens = pending.take()
    if invitation_id is not None:
        opens.setdefault(invitation_id, now)
    if not opens:
        return True
    try:
        connection.execute(_OPENED, [{"b_id": key, "b_now": when} for key, when in opens.items()])
        connection.commit()
    except OperationalError as error:  # "database is locked": the page is served, the write waits
        connection.rollback()
        for key, when in opens.items():
            pending.add(key, when)
        log.warning("survey opens not recorded yet (%s); %d waiting", error.orig, len(opens))
        return False
    return True


def has_pending_opens() -> bool:
    return bool(pending_opens().opens)
