"""Demo outbox rows, do-not-contact entries and SMS replies, so the messaging pages have content."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from app.crm.models import Contact
from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.models import (
    DoNotContactEntry,
    DoNotContactKind,
    InboundMessage,
    MessageStatus,
    OutboundMessage,
    ReplyIntent,
)


def load_messaging_demo(*, now: datetime) -> None:
    """A handful of realistic messages in every state, two list entries and two replies. Caller commits."""
    contacts = db.session.scalars(
        select(Contact)
        .where(Contact.email.is_not(None), Contact.phone.is_not(None), Contact.email_opt_out_at.is_(None))
        .order_by(Contact.id)
        .limit(6)
    ).all()
    if len(contacts) < 6:
        return
    states = [
        (MessageStatus.SENT, Channel.EMAIL, None, "delivered"),
        (MessageStatus.SENT, Channel.SMS, None, "delivered"),
        (MessageStatus.QUEUED, Channel.EMAIL, None, None),
        (MessageStatus.FAILED, Channel.EMAIL, "Recipient refused: 550 5.1.1 User unknown", None),
        (
            MessageStatus.FAILED,
            Channel.SMS,
            "Twilio error 21211: The 'To' number is not a valid phone number.",
            None,
        ),
        (MessageStatus.CANCELLED, Channel.EMAIL, None, None),
    ]
    for index, (contact, (status, channel, error, provider_status)) in enumerate(
        zip(contacts, states, strict=True)
    ):
        created = now - timedelta(hours=6 - index)
        email = channel is Channel.EMAIL
        message = OutboundMessage(
            idempotency_key=f"demo:{index}",
            channel=channel,
            recipient=contact.email if email else contact.phone,
            contact_id=contact.id,
            template="invitation" if email else "sms",
            subject=f"{contact.first_name}, two minutes about your decision?" if email else None,
            body_text=(
                f"Hello {contact.first_name},\n\nYou recently chose another option. Would you tell us why? "
                "It takes two minutes.\n"
                if email
                else f"Hi {contact.first_name}, 2 quick questions about your decision? Reply STOP to opt out"
            ),
            meta={},
            status=status,
            attempts=0 if status is MessageStatus.QUEUED else 1,
            next_attempt_at=created,
            created_at=created,
            sent_at=created + timedelta(minutes=1) if status is MessageStatus.SENT else None,
            provider_id=(f"<outbox.demo{index}@winback.demo>" if email else f"SMdemo{index:026d}")
            if status is MessageStatus.SENT
            else None,
            provider_status=provider_status,
            error=error,
            error_code=("smtp_550" if email else "twilio_21211") if error else None,
            cancelled_reason="suppressed at send time: do_not_contact"
            if status is MessageStatus.CANCELLED
            else None,
        )
        db.session.add(message)
    db.session.add_all(
        [
            DoNotContactEntry(
                kind=DoNotContactKind.DOMAIN,
                value="competitor-rival.example",
                source="admin: demo",
                note="A competitor: never survey them",
                created_at=now - timedelta(days=20),
            ),
            DoNotContactEntry(
                kind=DoNotContactKind.EMAIL,
                value=contacts[5].email,
                source="unsubscribe link (email)",
                created_at=now - timedelta(days=2),
            ),
        ]
    )
    db.session.add_all(
        [
            InboundMessage(
                channel=Channel.SMS,
                provider_id="SMdemo-reply-1",
                sender=contacts[1].phone,
                recipient="+14155550000",
                body="Who is this? We already bought from someone else.",
                contact_id=contacts[1].id,
                intent=ReplyIntent.UNCLEAR,
                needs_review=True,
                received_at=now - timedelta(hours=2),
            ),
            InboundMessage(
                channel=Channel.SMS,
                provider_id="SMdemo-reply-2",
                sender=contacts[4].phone,
                recipient="+14155550000",
                body="Stop. Thanks",
                contact_id=contacts[4].id,
                intent=ReplyIntent.OPT_OUT,
                action_taken="opted out of SMS (1 contact(s))",
                received_at=now - timedelta(hours=1),
            ),
        ]
    )
    contacts[4].sms_opt_out_at = now - timedelta(hours=1)
    contacts[4].sms_opt_out_source = "sms reply: Stop. Thanks"
    db.session.flush()
