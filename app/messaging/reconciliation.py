"""Settling rows left `sending` by a worker that died, without sending anything twice (see delivery)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import false, func, select

from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.models import MessageStatus, OutboundMessage
from app.messaging.transports import Transports

log = logging.getLogger("winback.worker")


def reconcile_stale_messages(transports: Transports, *, now: datetime, stale_seconds: float) -> int:
    """Settle rows left `sending` by a worker that died, without sending anything again.

    Only rows whose claim was not renewed for `stale_seconds` are taken (a live worker renews its
    claim before every send), and each change is guarded by the claim seen, so a worker that renews
    it meanwhile keeps its row. Rows never tried go back to the queue; only the one in flight is
    looked up (SMS) or left for a person (email, `unknown`).
    """
    cutoff = now - timedelta(seconds=stale_seconds)
    stale = db.session.execute(
        select(
            OutboundMessage.id,
            OutboundMessage.channel,
            OutboundMessage.claimed_at,
            OutboundMessage.send_started_at,
            _claimed_before_server_start().label("server_restarted"),
        )
        .where(OutboundMessage.status == MessageStatus.SENDING, OutboundMessage.claimed_at < cutoff)
        .with_for_update(skip_locked=True)
    ).all()
    settled = 0
    for row in stale:
        changes = _settle_stale(row, transports, now=now)
        if changes is None:
            continue
        target = changes.pop("status")
        settled += db.session.execute(
            OutboundMessage.bulk_transition(MessageStatus.SENDING, target, claimed_by=None, **changes).where(
                OutboundMessage.id == row.id, OutboundMessage.claimed_at == row.claimed_at
            ),
            execution_options={"synchronize_session": False},
        ).rowcount
    db.session.commit()
    db.session.expire_all()
    return settled


def _claimed_before_server_start():
    """True for a row claimed before the database server last started: its attempt marker may be lost."""
    if db.engine.dialect.name == "postgresql":
        return func.coalesce(OutboundMessage.claim_server_epoch < func.pg_postmaster_start_time(), false())
    return false()


def _settle_stale(row, transports: Transports, *, now: datetime) -> dict[str, object] | None:
    """The new state of a stale row, or None to leave it for the next pass."""
    if row.send_started_at is None and not row.server_restarted:  # never tried: sending it now is safe
        return {
            "status": MessageStatus.QUEUED,
            "next_attempt_at": now,
            "claimed_at": None,
            "attempts": OutboundMessage.attempts - 1,
            "error": "worker stopped before trying this message; queued again",
        }
    if row.channel is Channel.SMS and hasattr(transports.sms, "find_accepted"):
        message = db.session.get(OutboundMessage, row.id)
        since = (row.send_started_at or row.claimed_at) - timedelta(minutes=5)
        try:
            found = transports.sms.find_accepted(message, since=since)
        except Exception as error:  # Twilio unreachable: leave the row for the next pass
            log.warning("could not reconcile SMS %s: %s", row.id, error)
            return None
        if found is not None:
            return {
                **OutboundMessage.sent_values(now=now, provider_status=found.provider_status),
                "provider_id": found.provider_id,
            }
        return {
            "status": MessageStatus.QUEUED,  # Twilio never took it: sending it now is safe
            "next_attempt_at": now,
            "error": "worker stopped before Twilio accepted the message; queued again",
        }
    if row.send_started_at is None:
        return {
            "status": MessageStatus.UNKNOWN,
            "error": (
                "The database server restarted while this email was being sent; it may have gone out. "
                "Not resent automatically: check the recipient's mailbox or resend it from the outbox."
            ),
            "error_code": "outcome_unknown",
        }
    return {
        "status": MessageStatus.UNKNOWN,
        "error": (
            "The worker stopped while sending this email; the SMTP server may have accepted it. "
            "Not resent automatically: check the recipient's mailbox or resend it from the outbox."
        ),
        "error_code": "outcome_unknown",
    }
