"""The live sync's side of the pipeline: an accepted requalification queues its CRM deal's upsert, and the
CRM's id for the deal comes back onto the requalification."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import select

from app.audit.service import record_event
from app.crm.importing.values import winback_number
from app.crm.sync.service import queue_push
from app.extensions import db
from app.pipeline.models import Requalification, RequalificationStatus

ENTITY = "requalification"
DEFAULT_EXPECTED_CLOSE_DAYS = 30


def expected_close_date(requalification: Requalification, *, now: datetime) -> date:
    """The new deal's close date, in the CRM file and the push alike: the acceptance plus
    CRM_EXPECTED_CLOSE_DAYS (Salesforce refuses an opportunity without one)."""
    days = int(current_app.config.get("CRM_EXPECTED_CLOSE_DAYS") or DEFAULT_EXPECTED_CLOSE_DAYS)
    return ((requalification.decided_at or now) + timedelta(days=days)).date()


def crm_stage(crm: str) -> str:
    """The stage a new deal starts in, in the CRM file and the push alike (SALESFORCE_/HUBSPOT_PUSH_STAGE)."""
    defaults = {"salesforce": "Qualification", "hubspot": "appointmentscheduled"}
    return current_app.config.get(f"{crm.upper()}_PUSH_STAGE") or defaults[crm]


def crm_deal(requalification: Requalification, *, now: datetime) -> dict:
    """The CRM deal of an accepted requalification, in the sync's neutral shape (each CRM maps it)."""
    account = requalification.account
    original = requalification.opportunity
    amount = requalification.expected_amount
    if amount is None and original is not None:
        amount = original.amount
    return {
        "name": f"{account.name} – recycled" if original is None else f"{original.name} (recycled)",
        "account_crm_id": account.crm_id,
        "account_name": account.name,
        "amount": f"{amount:.2f}" if amount is not None else None,
        "currency": original.currency if original is not None else None,
        "close_date": expected_close_date(requalification, now=now).isoformat(),
        "owner": requalification.owner,
        "next_step": requalification.next_step,
        "original_crm_id": original.crm_id if original is not None else None,
    }


def queue_crm_push(requalification: Requalification, *, now: datetime) -> None:
    """Queue the upsert of the accepted requalification's deal for the next sync run."""
    queue_push(requalification.winback_id, crm_deal(requalification, now=now), now=now)


def store_pushed_crm_id(winback_id: str, crm_id: str, *, now: datetime) -> None:
    """The CRM took the pushed deal: its id goes on the requalification (a linked one keeps its own)."""
    number = winback_number(winback_id)
    requalification = db.session.scalar(select(Requalification).where(Requalification.id == number))
    if requalification is None or requalification.status is not RequalificationStatus.ACCEPTED:
        return
    if requalification.recycled_opportunity_id is not None or requalification.crm_opportunity_id == crm_id:
        return
    requalification.crm_opportunity_id = crm_id
    requalification.updated_at = now
    record_event(
        "requalification.crm_id",
        ENTITY,
        requalification.id,
        actor_label="sync",
        details={"crm_opportunity_id": crm_id},
        now=now,
    )
