"""The optional outgoing webhook: an accepted requalification, as JSON signed with the shared secret,
delivered and retried by the outbox (a 4xx answer stops the retries)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime

from app.messaging.channels import Channel
from app.messaging.models import OutboundMessage
from app.messaging.service import enqueue_message
from app.pipeline.models import PipelineSettings, Requalification

SIGNATURE_HEADER = "X-Winback-Signature"
TEMPLATE = "pipeline.webhook"


def sign(body: bytes, secret: str) -> str:
    """The hex HMAC-SHA256 of the body with the shared secret."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def payload(requalification: Requalification, event: str) -> dict:
    original = requalification.opportunity
    amount = requalification.expected_amount
    return {
        "event": event,
        "id": requalification.id,
        "winback_id": requalification.winback_id,
        "status": requalification.status.value,
        "score": requalification.score,
        "reasons": list(requalification.score_reasons or []),
        "account": {"crm_id": requalification.account.crm_id, "name": requalification.account.name},
        "original_opportunity": (
            {"crm_source": original.crm_source, "crm_id": original.crm_id} if original is not None else None
        ),
        "owner": requalification.owner,
        "expected_amount": f"{amount:.2f}" if amount is not None else None,
        "currency": original.currency if original is not None else None,
        "next_step": requalification.next_step,
        "next_step_date": requalification.next_step_date.isoformat()
        if requalification.next_step_date
        else None,
        "decided_at": requalification.decided_at.isoformat() if requalification.decided_at else None,
    }


def queue_webhook(
    requalification: Requalification, event: str, *, settings: PipelineSettings, now: datetime
) -> OutboundMessage | None:
    """Queue the signed JSON for the CRM's webhook when one is set (in the caller's transaction)."""
    if not settings.webhook_url or not settings.webhook_secret:
        return None
    body = json.dumps(payload(requalification, event), sort_keys=True, separators=(",", ":"))
    return enqueue_message(
        channel=Channel.WEBHOOK,
        recipient=settings.webhook_url,
        body_text=body,
        idempotency_key=f"pipeline-webhook:{requalification.id}:{event}",
        template=TEMPLATE,
        meta={"headers": {SIGNATURE_HEADER: sign(body.encode("utf-8"), settings.webhook_secret)}},
        now=now,
    )
