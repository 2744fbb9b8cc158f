"""Deciding several requalifications at once, and the sentence that says what was done."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from app.auth.models import User
from app.errors import DomainError, ValidationError
from app.extensions import db
from app.pipeline.models import REJECT_REASONS, Requalification
from app.pipeline.people import default_owner, owner_names
from app.pipeline.service import accept, defer, reject, reviewable

PAST = {"accept": "accepted", "reject": "rejected", "defer": "deferred"}


@dataclass
class BulkResult:
    done: list[int]
    failed: list[tuple[int, str]]
    owners: dict[int, str] = field(default_factory=dict)  # accepted: each one's owner
    reasons: dict[int, str] = field(default_factory=dict)  # rejected: each one's reason


def _accept(requalification: Requalification, *, owner: str = "", names: dict[str, str], **values) -> None:
    """Accept with the owner chosen for all, else the deal's own owner (a Winback user where one matches)."""
    owner = (owner or "").strip() or default_owner(requalification, names) or ""
    if not owner:
        raise ValidationError("its deal has no owner: choose one for it.", field="owner")
    accept(
        requalification,
        owner=owner,
        expected_amount=values.pop("expected_amount", None),
        next_step=values.pop("next_step", ""),
        next_step_date=values.pop("next_step_date", None),
        **values,
    )


def bulk_decide(ids: Iterable[int], action: str, *, reviewer: User, now: datetime, **values) -> BulkResult:
    """Apply one decision to several requalifications; each that cannot take it is reported, not fatal.

    A bulk accept without an owner keeps each deal's own owner.
    """
    if action not in PAST:
        raise ValidationError("Choose accept, reject or defer.", field="action")
    chosen = reviewable(ids)
    if not chosen:
        raise ValidationError("Tick at least one requalification.", field="ids")
    if action == "accept":
        values["names"] = owner_names()
    decide = {"accept": _accept, "reject": reject, "defer": defer}[action]
    result = BulkResult(done=[], failed=[])
    for requalification in chosen:
        try:
            with db.session.begin_nested():
                decide(requalification, reviewer=reviewer, now=now, **dict(values))
        except DomainError as error:
            result.failed.append((requalification.id, error.message))
        else:
            result.done.append(requalification.id)
            if action == "accept":
                result.owners[requalification.id] = requalification.owner or ""
            elif action == "reject":
                result.reasons[requalification.id] = requalification.reject_reason or ""
    return result


def _plural(count: int) -> str:
    return f"{count} requalification{'s' if count != 1 else ''}"


def bulk_message(action: str, result: BulkResult, *, until: date | None = None) -> str:
    """What was done, in a sentence: "Accepted 2 requalifications; owners: Ann Lee (WB-1), Bo Ek (WB-2)."."""
    done = _plural(len(result.done))
    if action == "accept":
        owners = ", ".join(f"{owner} (WB-{number})" for number, owner in result.owners.items())
        return f"Accepted {done}; owners: {owners}."
    if action == "reject":
        reasons = sorted({REJECT_REASONS.get(reason, reason) for reason in result.reasons.values()})
        return f"Rejected {done}: {', '.join(reasons)}."
    day = until.isoformat() if until else "later"
    return f"Deferred {done} until {day}: they come back to the queue that day."
