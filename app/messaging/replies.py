"""Inbound SMS replies: STOP and friends opt out, START opts back in, anything unclear goes to a person."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from sqlalchemy import select

from app.crm.models import Contact
from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.models import DoNotContactKind, InboundMessage, ReplyIntent
from app.messaging.service import SMS_SOURCE_PREFIX, add_do_not_contact, opt_in_contact_sms, opt_out_contact

# The carriers' and Twilio's opt-out and opt-in keywords (CTIA), compared without case or punctuation.
STOP_KEYWORDS = frozenset(
    {"stop", "stopall", "stop all", "unsubscribe", "cancel", "end", "quit", "optout", "opt out", "revoke"}
)
START_KEYWORDS = frozenset({"start", "unstop", "yes"})
HELP_KEYWORDS = frozenset({"help", "info"})
# Words that may follow a keyword without changing what it means: "Stop. Thanks", "STOP please".
_POLITE = frozenset(
    {"thanks", "thank", "you", "thx", "ty", "please", "pls", "plz", "now", "it", "this", "me", "sorry", "ok"}
)
# Plain-language requests to stop; regulators expect any reasonable request to be honoured.
_STOP_PHRASES = (
    re.compile(
        r"\b(stop|quit|cease|no more|don ?t|do not|never)\b.{0,30}"
        r"\b(text|txt|sms|message|messag|contact|call|email|mail|send)"
    ),
    re.compile(
        r"\b(remove|delete|take)\b.{0,20}\b(me|my number|my details|us)\b.{0,20}"
        r"\b(list|lists|off|database|system)\b"
    ),
    re.compile(r"\bunsubscribe\b"),
    re.compile(r"\bopt(ing)? ?out\b"),
    re.compile(r"\bleave me alone\b"),
    re.compile(r"\bwrong number\b"),
    re.compile(r"\bnot (to )?(text|contact|message|call)\b"),
)
_NEGATED_STOP = re.compile(r"\b(don ?t|do not|never) stop\b")


def _normalise(body: str) -> str:
    text = unicodedata.normalize("NFKC", body).casefold()
    text = text.replace("\u2019", "'").replace("'", "")
    text = re.sub(r"[^\w\s]", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def classify_reply(body: str) -> ReplyIntent:
    """What a reply asks for. Keywords first, then plain-language stop requests; the rest is unclear."""
    text = _normalise(body)
    if not text:
        return ReplyIntent.UNCLEAR
    if text in STOP_KEYWORDS:
        return ReplyIntent.OPT_OUT
    if text in START_KEYWORDS:
        return ReplyIntent.OPT_IN
    if text in HELP_KEYWORDS:
        return ReplyIntent.HELP
    words = text.split()
    for size in (2, 1):
        head, rest = " ".join(words[:size]), words[size:]
        if head in STOP_KEYWORDS and all(word in _POLITE for word in rest):
            return ReplyIntent.OPT_OUT
    if words[0] in START_KEYWORDS and all(word in _POLITE for word in words[1:]):
        return ReplyIntent.OPT_IN
    if _NEGATED_STOP.search(text):
        return ReplyIntent.UNCLEAR
    if any(pattern.search(text) for pattern in _STOP_PHRASES):
        return ReplyIntent.OPT_OUT
    return ReplyIntent.UNCLEAR


def record_inbound_sms(
    *, message_sid: str, sender: str, recipient: str | None, body: str, now: datetime
) -> tuple[InboundMessage, bool]:
    """Store a reply and act on it once; a replayed webhook returns the stored row (created False)."""
    existing = db.session.scalar(select(InboundMessage).where(InboundMessage.provider_id == message_sid))
    if existing is not None:
        return existing, False
    contacts = list(
        db.session.scalars(select(Contact).where(Contact.phone == sender, Contact.erased_at.is_(None)))
    )
    intent = classify_reply(body)
    source = f"{SMS_SOURCE_PREFIX}: {body.strip()[:40]}"
    action = None
    if intent is ReplyIntent.OPT_OUT:
        for contact in contacts:
            opt_out_contact(contact, Channel.SMS, source=source, now=now)
        add_do_not_contact(DoNotContactKind.PHONE, sender, source=source, now=now)
        action = f"opted out of SMS ({len(contacts)} contact(s)); number on the do-not-contact list"
    elif intent is ReplyIntent.OPT_IN:
        for contact in contacts:
            opt_in_contact_sms(contact, source=source, now=now)
        action = f"opted back in to SMS ({len(contacts)} contact(s))"
    reply = InboundMessage(
        channel=Channel.SMS,
        provider_id=message_sid,
        sender=sender,
        recipient=recipient,
        body=body,
        contact_id=contacts[0].id if contacts else None,
        intent=intent,
        action_taken=action,
        needs_review=intent is ReplyIntent.UNCLEAR,
        received_at=now,
    )
    db.session.add(reply)
    db.session.flush()
    return reply, True
