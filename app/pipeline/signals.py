"""The pipeline listens to surveys (a response completed) and the CRM (opportunities imported)."""

from __future__ import annotations

from datetime import datetime

from app.crm.signals import deal_pushed, opportunities_imported, winback_ids_linked
from app.db_types import utcnow
from app.pipeline.calls import evaluate_call
from app.pipeline.crm_push import store_pushed_crm_id
from app.pipeline.recycling import link_recycled, linked_crm_ids
from app.pipeline.service import evaluate_response
from campaigns.calls.signals import call_requalified
from surveys.models import Response
from surveys.signals import response_completed


def _on_response_completed(response: Response, *, now: datetime | None = None, **_: object) -> None:
    # Inside the transaction that completed the response: both commit, or neither.
    evaluate_response(response, now=now or utcnow())


def _on_opportunities_imported(_source: str, *, now: datetime | None = None, **_: object) -> int:
    return link_recycled(now=now or utcnow())  # the count: a sync run reports how many it linked


def _on_deal_pushed(_source: str, *, winback_id: str, crm_id: str | None, now: datetime, **_: object) -> None:
    if crm_id:
        store_pushed_crm_id(winback_id, crm_id, now=now)


def _on_winback_ids_linked(_source: str, *, numbers: set[int], **_: object) -> dict[int, str]:
    return linked_crm_ids(numbers)


def _on_call_requalified(attempt, *, now: datetime | None = None, **_: object) -> None:
    # Inside the transaction that recorded the disposition.
    evaluate_call(attempt, now=now or utcnow())


def connect_signals() -> None:
    call_requalified.connect(_on_call_requalified)
    response_completed.connect(_on_response_completed)
    opportunities_imported.connect(_on_opportunities_imported)
    deal_pushed.connect(_on_deal_pushed)
    winback_ids_linked.connect(_on_winback_ids_linked)
