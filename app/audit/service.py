"""Record audit events; callers commit."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.audit.models import AuditEvent
from app.db_types import utcnow
from app.extensions import db

if TYPE_CHECKING:
    from app.auth.models import User


def record_event(
    action: str,
    entity_type: str,
    entity_id: int | None,
    *,
    actor: User | None = None,
    actor_label: str | None = None,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    event = AuditEvent(
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        actor_id=actor.id if actor else None,
        actor_label=actor_label,
        details=details or {},
        at=now or utcnow(),
    )
    db.session.add(event)
    return event
