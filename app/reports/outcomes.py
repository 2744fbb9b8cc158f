"""The outcome rules every report counts with: call outcome classes, "reached" and "responded".

Each rule is written here once, as a SQLAlchemy expression over the call attempts and invitations; the
funnel, its drill-downs and CSVs, the role homes, the callers' report and `flask reports figures` use them.
"""

from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlalchemy.sql.elements import ColumnElement

from app.reports.aggregates import earliest
from campaigns.calls.models import CallAttempt, CallTask, Disposition
from surveys.models import Answer

# Someone picked up and spoke with the caller.
CONNECTED = frozenset(
    {
        Disposition.CALLBACK,
        Disposition.NOT_INTERESTED,
        Disposition.COMPLETED,
        Disposition.DO_NOT_CALL,
        Disposition.REQUALIFIED,
    }
)
# Attempts: nobody was spoken with (a failed call has no disposition and never answered).
ATTEMPTS = frozenset(set(Disposition) - CONNECTED)


def call_connected() -> ColumnElement[bool]:
    """A call that connected to a person: its disposition is a connected outcome.

    No answer, busy, voicemail, wrong number and failed calls are attempts, even when the line picked up
    (an answering machine picks up too). A call still in progress counts once its line answered.
    """
    return or_(
        CallAttempt.disposition.in_(CONNECTED),
        and_(CallAttempt.disposition.is_(None), CallAttempt.answered_at.is_not(None)),
    )


def _has_answers(response_id) -> ColumnElement[bool]:
    return select(Answer.id).where(Answer.response_id == response_id).exists()


def call_responded() -> ColumnElement[bool]:
    """A call that took a response down: connected, and holding (or its task holding) at least one answer.

    A response opened on an unanswered call, or left empty, is not a response.
    """
    return and_(
        call_connected(),
        or_(
            and_(CallAttempt.response_id.is_not(None), _has_answers(CallAttempt.response_id)),
            and_(
                CallAttempt.response_id.is_(None),
                CallTask.response_id.is_not(None),
                _has_answers(CallTask.response_id),
            ),
        ),
    )


def reached_at(connected_at, opened_at, completed_at) -> ColumnElement:
    """When an enrollment was reached (NULL: never): its first connected call, or its survey opened (or
    clicked, which opens it) or completed, whichever came first. Only connected calls count."""
    return earliest(connected_at, opened_at, completed_at)


def responded_at(phoned_at, completed_at) -> ColumnElement:
    """When an enrollment responded (NULL: never), counted once whatever the channel: its first call that
    took a response down (call_responded), or its web response completed, whichever came first."""
    return earliest(phoned_at, completed_at)


def survey_reached(opened_at, completed_at) -> ColumnElement[bool]:
    """A survey invitation reached its contact: opened (or clicked, which opens it) or completed."""
    return or_(opened_at.is_not(None), completed_at.is_not(None))


def survey_responded(completed_at) -> ColumnElement[bool]:
    """A survey invitation was answered: its response is complete (a web response counts once complete)."""
    return completed_at.is_not(None)
