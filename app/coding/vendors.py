"""Answers naming the vendor chosen instead feed the competitor list, not the coding queue."""

from __future__ import annotations

from app.crm.importing.upsert import CompetitorMatcher
from app.extensions import db
from surveys.models import Response


def record_chosen_vendors(response: Response) -> int:
    """Match each vendor-name answer of the response to a competitor; returns how many were matched.

    The match is the import's: exact after normalisation ('Looker Inc.' is 'Looker'), else a new
    competitor with a suggested merge when a known name is close ('Umbrela Metrics'). The deal's own
    competitor stays what sales recorded: reports show both side by side.
    """
    answers = [
        answer
        for answer in response.answers
        if answer.question.feeds_competitor and answer.text and answer.text.strip()
    ]
    if not answers:
        return 0
    matcher = CompetitorMatcher()
    for answer in answers:
        answer.competitor_id = matcher.match(answer.text)
    db.session.flush()
    return len(answers)
