"""Opt-out links: a signed, non-expiring token naming the contact and the channel."""

from __future__ import annotations

from functools import lru_cache

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from app.crm.models import Contact
from app.messaging.channels import Channel
from app.messaging.links import public_base_url

_SALT = "winback-opt-out"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def make_opt_out_token(contact_id: int, channel: Channel) -> str:
    return _signed(current_app.config["SECRET_KEY"], contact_id, channel.value)


@lru_cache(maxsize=4096)
def _signed(secret_key: str, contact_id: int, channel: str) -> str:
    """Tokens are deterministic, so each one is signed once (every survey page links to one)."""
    return URLSafeSerializer(secret_key, salt=_SALT).dumps([contact_id, channel])


def read_opt_out_token(token: str) -> tuple[int, Channel] | None:
    """The (contact id, channel) a token names, or None for a forged or damaged token."""
    try:
        contact_id, channel = _serializer().loads(token)
        return int(contact_id), Channel(channel)
    except (BadSignature, ValueError, TypeError):
        return None


def opt_out_url(contact: Contact, channel: Channel) -> str:
    """The public unsubscribe link for emails, SMS footers and survey pages."""
    return opt_out_url_for(contact.id, channel)


def opt_out_url_for(contact_id: int, channel: Channel) -> str:
    """The same link when only the contact's id is at hand (the survey pages read no Contact)."""
    base = public_base_url()
    return f"{base}/unsubscribe/{make_opt_out_token(contact_id, channel)}"
