"""Opt-out everywhere: the unsubscribe page, SMS replies, Twilio webhooks with signatures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.models import (
    DoNotContactEntry,
    InboundMessage,
    MessageStatus,
    OutboundMessage,
    ReplyIntent,
)
from app.messaging.optout import make_opt_out_token, opt_out_url
from app.messaging.replies import classify_reply
from app.messaging.service import enqueue_message, opt_out_contact
from app.messaging.signals import contact_opted_out

from .conftest import AUTH_TOKEN

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _queue(contact, channel, key):
    message = enqueue_message(
        channel=channel, recipient="x", body_text="Hi", idempotency_key=key, contact=contact, now=NOW
    )
    db.session.commit()
    return message


def test_opt_out_sets_fields_lists_the_address_cancels_queued_messages_and_signals(make_contact):
    contact = make_contact(email="jane@customer.example")
    email = _queue(contact, Channel.EMAIL, "e")
    sms = _queue(contact, Channel.SMS, "s")
    received = []

    def listener(sender, **kwargs):
        received.append((sender.id, kwargs["channel"], kwargs["source"]))

    with contact_opted_out.connected_to(listener):
        cancelled = opt_out_contact(contact, Channel.EMAIL, source="unsubscribe link (email)", now=NOW)
    db.session.commit()
    db.session.expire_all()
    assert cancelled == 2
    assert contact.email_opt_out_at == NOW
    assert contact.email_opt_out_source == "unsubscribe link (email)"
    assert contact.sms_opt_out_at is None
    assert email.status is MessageStatus.CANCELLED
    assert sms.status is MessageStatus.CANCELLED
    entry = db.session.scalars(select(DoNotContactEntry)).one()
    assert (entry.kind.value, entry.value, entry.source) == (
        "email",
        "jane@customer.example",
        "unsubscribe link (email)",
    )
    assert entry.created_at == NOW
    assert received == [(contact.id, Channel.EMAIL, "unsubscribe link (email)")]


def test_the_unsubscribe_link_asks_first_and_a_get_alone_changes_nothing(client, make_contact):
    contact = make_contact()
    queued = _queue(contact, Channel.EMAIL, "e")
    url = opt_out_url(contact, Channel.EMAIL)
    assert url.startswith("http://winback.test/unsubscribe/")
    response = client.get(url.removeprefix("http://winback.test"))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Would you like us to stop sending you emails?" in page
    assert "Yes, unsubscribe me" in page
    db.session.expire_all()
    assert contact.email_opt_out_at is None
    assert queued.status is MessageStatus.QUEUED


def test_rfc8058_one_click_post_unsubscribes_without_a_csrf_token(make_app, make_contact):
    csrf_app = make_app(WTF_CSRF_ENABLED=True)
    contact = make_contact()
    queued = _queue(contact, Channel.EMAIL, "e")
    token = make_opt_out_token(contact.id, Channel.EMAIL)
    mail_provider = csrf_app.test_client()
    response = mail_provider.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert "You are unsubscribed" in response.get_data(as_text=True)
    again = mail_provider.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200
    assert "already unsubscribed" in mail_provider.get(f"/unsubscribe/{token}").get_data(as_text=True)
    db.session.expire_all()
    assert contact.email_opt_out_at is not None
    assert contact.email_opt_out_source == "unsubscribe link (email)"
    assert queued.status is MessageStatus.CANCELLED
    assert db.session.scalar(select(func.count()).select_from(DoNotContactEntry)) == 1


def test_a_forged_unsubscribe_token_changes_nothing(client, make_contact):
    contact = make_contact()
    response = client.post(f"/unsubscribe/{make_opt_out_token(contact.id, Channel.EMAIL)}x")
    assert response.status_code == 404
    assert "This link does not work" in response.get_data(as_text=True)
    db.session.expire_all()
    assert contact.email_opt_out_at is None


@pytest.mark.parametrize(
    ("body", "intent"),
    [
        ("STOP", ReplyIntent.OPT_OUT),
        ("stop", ReplyIntent.OPT_OUT),
        (" Stop! ", ReplyIntent.OPT_OUT),
        ("STOPALL", ReplyIntent.OPT_OUT),
        ("STOP ALL", ReplyIntent.OPT_OUT),
        ("Unsubscribe", ReplyIntent.OPT_OUT),
        ("cancel", ReplyIntent.OPT_OUT),
        ("END", ReplyIntent.OPT_OUT),
        ("quit.", ReplyIntent.OPT_OUT),
        ("OPTOUT", ReplyIntent.OPT_OUT),
        ("opt-out", ReplyIntent.OPT_OUT),
        ("REVOKE", ReplyIntent.OPT_OUT),
        ("Stop. Thanks", ReplyIntent.OPT_OUT),
        ("STOP please", ReplyIntent.OPT_OUT),
        ("please stop texting me", ReplyIntent.OPT_OUT),
        ("Please don't text me again", ReplyIntent.OPT_OUT),
        ("remove me from your list", ReplyIntent.OPT_OUT),
        ("Take me off your list!", ReplyIntent.OPT_OUT),
        ("wrong number", ReplyIntent.OPT_OUT),
        ("START", ReplyIntent.OPT_IN),
        ("unstop", ReplyIntent.OPT_IN),
        ("Yes", ReplyIntent.OPT_IN),
        ("HELP", ReplyIntent.HELP),
        ("Who is this?", ReplyIntent.UNCLEAR),
        ("We went with the other vendor because of price", ReplyIntent.UNCLEAR),
        ("Don't stop, I'll answer later", ReplyIntent.UNCLEAR),
        ("", ReplyIntent.UNCLEAR),
    ],
)
def test_replies_are_understood(body, intent):
    assert classify_reply(body) is intent


# ------------------------------------------------------------------------------------------ webhooks

INBOUND = "http://winback.test/twilio/sms/inbound"
STATUS = "http://winback.test/twilio/sms/status"


@pytest.fixture
def twilio_client(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "TWILIO_AUTH_TOKEN", AUTH_TOKEN)

    def post(url, params, *, signature=None, sign=True):
        headers = {}
        if sign:
            headers["X-Twilio-Signature"] = signature or RequestValidator(AUTH_TOKEN).compute_signature(
                url, params
            )
        return client.post(url.removeprefix("http://winback.test"), data=params, headers=headers)

    return post


def _inbound(sid, sender, body):
    return {
        "MessageSid": sid,
        "AccountSid": "AC" + "1" * 32,
        "From": sender,
        "To": "+14155550000",
        "Body": body,
    }


def test_stop_by_sms_opts_out_of_sms_and_start_opts_back_in(twilio_client, make_contact):
    contact = make_contact(phone="+14155550177")
    queued = _queue(contact, Channel.SMS, "s")
    response = twilio_client(INBOUND, _inbound("SM1", "+14155550177", "Stop. Thanks"))
    assert response.status_code == 200
    assert "<Response></Response>" in response.get_data(as_text=True)
    db.session.expire_all()
    assert contact.sms_opt_out_at is not None
    assert contact.sms_opt_out_source == "sms reply: Stop. Thanks"
    assert contact.email_opt_out_at is None
    assert queued.status is MessageStatus.CANCELLED
    assert db.session.scalar(select(DoNotContactEntry.value)) == "+14155550177"
    reply = db.session.scalars(select(InboundMessage)).one()
    assert reply.intent is ReplyIntent.OPT_OUT
    assert not reply.needs_review
    twilio_client(INBOUND, _inbound("SM2", "+14155550177", "START"))
    db.session.expire_all()
    assert contact.sms_opt_out_at is None
    assert db.session.scalar(select(func.count()).select_from(DoNotContactEntry)) == 0


def test_an_unclear_reply_is_stored_and_flagged_for_a_person(twilio_client, make_contact, make_user, login):
    contact = make_contact(phone="+14155550178")
    twilio_client(INBOUND, _inbound("SM9", "+14155550178", "Who gave you my number?"))
    db.session.expire_all()
    reply = db.session.scalars(select(InboundMessage)).one()
    assert reply.needs_review
    assert reply.contact_id == contact.id
    assert contact.sms_opt_out_at is None
    page = login(make_user()).get("/replies").get_data(as_text=True)
    assert "Who gave you my number?" in page
    assert "1 reply waiting for a person" in page


@pytest.mark.parametrize(
    ("kind", "signature"),
    [("unsigned", None), ("forged", "bm90IGEgcmVhbCBzaWduYXR1cmU="), ("signed for another URL", "other")],
)
def test_unsigned_or_forged_webhooks_are_refused_and_change_nothing(
    twilio_client, make_contact, kind, signature
):
    contact = make_contact(phone="+14155550179")
    params = _inbound("SM3", "+14155550179", "STOP")
    if signature == "other":
        signature = RequestValidator(AUTH_TOKEN).compute_signature(
            "http://evil.example/twilio/sms/inbound", params
        )
    response = twilio_client(INBOUND, params, signature=signature, sign=kind != "unsigned")
    assert response.status_code == 403
    tampered = dict(params, Body="START")
    good_signature = RequestValidator(AUTH_TOKEN).compute_signature(INBOUND, params)
    assert twilio_client(INBOUND, tampered, signature=good_signature).status_code == 403
    db.session.expire_all()
    assert contact.sms_opt_out_at is None
    assert db.session.scalar(select(func.count()).select_from(InboundMessage)) == 0


def test_webhooks_are_refused_when_no_auth_token_is_configured(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "TWILIO_AUTH_TOKEN", None)
    params = _inbound("SM4", "+14155550180", "STOP")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(INBOUND, params)
    response = client.post("/twilio/sms/inbound", data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403


def test_a_replayed_inbound_webhook_changes_nothing(twilio_client, make_contact):
    contact = make_contact(phone="+14155550181")
    params = _inbound("SM5", "+14155550181", "STOP")
    assert twilio_client(INBOUND, params).status_code == 200
    db.session.expire_all()
    first_opt_out = contact.sms_opt_out_at
    twilio_client(INBOUND, _inbound("SM6", "+14155550181", "START"))
    assert twilio_client(INBOUND, params).status_code == 200  # the old STOP, replayed
    db.session.expire_all()
    assert first_opt_out is not None
    assert contact.sms_opt_out_at is None  # the replay did not undo the later START
    assert db.session.scalar(select(func.count()).select_from(InboundMessage)) == 2


def test_status_callbacks_move_forward_once_and_21610_opts_out(twilio_client, make_contact):
    contact = make_contact(phone="+14155550182")
    message = _queue(contact, Channel.SMS, "s")
    message.status, message.provider_id, message.provider_status = MessageStatus.SENT, "SM77", "queued"
    db.session.commit()
    delivered = {"MessageSid": "SM77", "MessageStatus": "delivered"}
    assert twilio_client(STATUS, delivered).status_code == 204
    assert twilio_client(STATUS, delivered).status_code == 204
    assert twilio_client(STATUS, {"MessageSid": "SM77", "MessageStatus": "sent"}).status_code == 204  # late
    db.session.expire_all()
    assert message.provider_status == "delivered"
    assert message.status is MessageStatus.SENT

    other = _queue(contact, Channel.SMS, "s2")
    other.status, other.provider_id, other.provider_status = MessageStatus.SENT, "SM78", "sent"
    db.session.commit()
    failed = {"MessageSid": "SM78", "MessageStatus": "undelivered", "ErrorCode": "21610"}
    twilio_client(STATUS, failed)
    twilio_client(STATUS, failed)
    db.session.expire_all()
    assert other.status is MessageStatus.FAILED
    assert other.error_code == "twilio_21610"
    assert contact.sms_opt_out_source == "twilio 21610 (recipient unsubscribed)"
    assert (
        twilio_client(STATUS, {"MessageSid": "SM78", "MessageStatus": "delivered"}, sign=False).status_code
        == 403
    )


def test_status_callback_for_an_unknown_message_is_harmless(twilio_client):
    assert twilio_client(STATUS, {"MessageSid": "SM404", "MessageStatus": "delivered"}).status_code == 204
    assert db.session.scalar(select(func.count()).select_from(OutboundMessage)) == 0
