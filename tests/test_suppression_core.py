"""Core suppression: erased, opted out, no address, do-not-contact list (email, phone, domain)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.errors import ValidationError
from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.merge import render_merge
from app.messaging.models import DoNotContactEntry, DoNotContactKind
from app.messaging.suppression import SuppressionReason, contact_suppression_reason

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _block(kind: DoNotContactKind, value: str) -> None:
    db.session.add(DoNotContactEntry(kind=kind, value=value, source="admin"))
    db.session.commit()


@pytest.mark.parametrize(
    ("setup", "channel", "expected"),
    [
        (lambda c: None, Channel.EMAIL, None),
        (lambda c: setattr(c, "erased_at", NOW), Channel.CALL, SuppressionReason.ERASED),
        (lambda c: setattr(c, "email_opt_out_at", NOW), Channel.EMAIL, SuppressionReason.OPTED_OUT),
        (lambda c: setattr(c, "email_opt_out_at", NOW), Channel.SMS, None),
        (lambda c: setattr(c, "sms_opt_out_at", NOW), Channel.SMS, SuppressionReason.OPTED_OUT),
        (lambda c: setattr(c, "call_opt_out_at", NOW), Channel.CALL, SuppressionReason.OPTED_OUT),
        (lambda c: setattr(c, "email", None), Channel.EMAIL, SuppressionReason.NO_ADDRESS),
        (lambda c: _block(DoNotContactKind.EMAIL, c.email), Channel.EMAIL, SuppressionReason.DO_NOT_CONTACT),
        (
            lambda c: _block(DoNotContactKind.DOMAIN, "customer.example"),
            Channel.SMS,
            SuppressionReason.DO_NOT_CONTACT,
        ),
        (lambda c: _block(DoNotContactKind.PHONE, c.phone), Channel.CALL, SuppressionReason.DO_NOT_CONTACT),
        (lambda c: _block(DoNotContactKind.DOMAIN, "other.example"), Channel.EMAIL, None),
    ],
)
def test_each_suppression_reason(make_contact, setup, channel, expected):
    contact = make_contact(email="pat@customer.example", phone="+14155550150")
    setup(contact)
    db.session.commit()
    assert contact_suppression_reason(contact, channel) == expected


def test_merge_fields_fill_in_and_unknown_fields_are_errors():
    assert render_merge(
        "Hi {{ first_name }} at {{ company }}", {"first_name": "Rita", "company": "Acme"}
    ) == ("Hi Rita at Acme")
    assert render_merge("<p>{{ name }}</p>", {"name": "<b>x</b>"}, html=True) == "<p>&lt;b&gt;x&lt;/b&gt;</p>"
    with pytest.raises(ValidationError, match="Unknown merge field: 'frist_name' is undefined"):
        render_merge("Hi {{ frist_name }}", {"first_name": "Rita"})
    with pytest.raises(ValidationError, match="syntax error"):
        render_merge("Hi {{ first_name ", {"first_name": "Rita"})


def test_opt_out_tokens_round_trip_and_refuse_forgeries(app):
    from app.messaging.optout import make_opt_out_token, read_opt_out_token

    token = make_opt_out_token(42, Channel.SMS)
    assert read_opt_out_token(token) == (42, Channel.SMS)
    assert read_opt_out_token(token[:-2] + "xx") is None
    assert read_opt_out_token("not-a-token") is None
