"""Number health: numbers the queue does not dial.

A number that failed (no answer, busy, failed) on `failed_days` separate days (UTC) within the last
`hold_days` is held for `hold_days`, for every contact and in every campaign; a supervisor may release
it sooner. A wrong-number disposition ends that number for that contact, for good (until released, or
until the contact gets another number).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select

from app.audit.service import record_event
from app.auth.models import User
from app.crm.models import Contact
from app.extensions import db
from campaigns.calls.models import CallAttempt, Disposition, NumberHold

FAILED_DISPOSITIONS = (Disposition.NO_ANSWER, Disposition.BUSY)
FAILED_STATUSES = ("no-answer", "busy", "failed")


@dataclass(frozen=True)
class HealthRules:
    failed_days: int = 3
    hold_days: int = 30

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> HealthRules:
        return cls(
            max(1, int(config.get("CALL_NUMBER_FAILED_DAYS") or 3)),
            max(1, int(config.get("CALL_NUMBER_HOLD_DAYS") or 30)),
        )


def hold_applies(holds, phone, contact_id, now):
    """SQL, true for a hold on `phone` in force at `now`: the number's, or this contact's wrong number."""
    return and_(
        holds.c.phone == phone,
        or_(holds.c.contact_id.is_(None), holds.c.contact_id == contact_id),
        holds.c.released_at.is_(None),
        or_(holds.c.held_until.is_(None), holds.c.held_until > now),
    )


def number_is_held(contact_id, phone, now):
    """SQL for the queue's claim: the contact's number is held now (one probe of the phone index)."""
    holds = NumberHold.__table__.alias("number_hold")
    return exists().where(hold_applies(holds, phone, contact_id, now))


def active_hold(contact: Contact, phone: str | None, *, now: datetime) -> NumberHold | None:
    if not phone:
        return None
    return db.session.scalar(
        select(NumberHold)
        .where(hold_applies(NumberHold.__table__, phone, contact.id, now))
        .order_by(NumberHold.held_until.desc().nulls_first())
        .limit(1)
    )


def _failed_days(phone: str, *, since: datetime) -> int:
    failed = or_(
        CallAttempt.disposition.in_(FAILED_DISPOSITIONS), CallAttempt.twilio_status.in_(FAILED_STATUSES)
    )
    days = db.session.scalars(
        select(CallAttempt.started_at).where(
            CallAttempt.phone == phone, CallAttempt.started_at > since, failed
        )
    )
    return len({started.date() for started in days})


def note_failed_call(phone: str | None, *, now: datetime, rules: HealthRules) -> NumberHold | None:
    """A call to `phone` failed: hold the number when it has now failed on enough separate days."""
    if not phone:
        return None
    held = db.session.scalar(
        select(NumberHold).where(
            NumberHold.phone == phone,
            NumberHold.contact_id.is_(None),
            NumberHold.held_until > now,
            NumberHold.released_at.is_(None),
        )
    )
    if held is not None:
        return held
    # Failures before the last hold ended (or was released) were already counted once.
    last = db.session.scalar(
        select(func.max(func.coalesce(NumberHold.released_at, NumberHold.held_until))).where(
            NumberHold.phone == phone, NumberHold.contact_id.is_(None)
        )
    )
    since = now - timedelta(days=rules.hold_days)
    if last is not None and last > since:
        since = last
    db.session.flush()
    if _failed_days(phone, since=since) < rules.failed_days:
        return None
    hold = NumberHold(
        phone=phone,
        reason=f"failed on {rules.failed_days} separate days",
        held_at=now,
        held_until=now + timedelta(days=rules.hold_days),
    )
    db.session.add(hold)
    db.session.flush()
    return hold


def end_number_for_contact(contact: Contact, phone: str, *, now: datetime) -> NumberHold:
    """A wrong number: never dial it again for this contact."""
    hold = NumberHold(phone=phone, contact_id=contact.id, reason="wrong number", held_at=now)
    db.session.add(hold)
    db.session.flush()
    return hold


def held_numbers(*, now: datetime, limit: int = 200) -> list[NumberHold]:
    """The holds in force now, newest first (the supervisor's list)."""
    return list(
        db.session.scalars(
            select(NumberHold)
            .where(
                NumberHold.released_at.is_(None),
                or_(NumberHold.held_until.is_(None), NumberHold.held_until > now),
            )
            .order_by(NumberHold.held_at.desc(), NumberHold.id.desc())
            .limit(limit)
        )
    )


def release_hold(hold: NumberHold, supervisor: User, *, now: datetime) -> None:
    if hold.released_at is None:
        hold.released_at = now
        hold.released_by_id = supervisor.id
        record_event(
            "call.number_released",
            "call_number_hold",
            hold.id,
            actor=supervisor,
            details={"phone": hold.phone, "reason": hold.reason},
            now=now,
        )
