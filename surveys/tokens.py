"""Personal survey tokens: 128 random bits per invitation, the link derived with HMAC, only a hash stored."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from flask import current_app

_CONTEXT = b"winback-survey-link:"


def new_nonce() -> str:
    """128 bits from the OS's random source, hex."""
    return secrets.token_hex(16)


def token_for(nonce: str, secret_key: str | None = None) -> str:
    """The link token for a nonce: HMAC-SHA256 with SECRET_KEY, base64url without padding (43 chars)."""
    key = (secret_key or current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(key, _CONTEXT + nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def hash_token(token: str) -> str:
    """What the database stores and looks up: sha256 of the token, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_token(token: str) -> bool:
    return 20 <= len(token) <= 64 and all(c.isalnum() or c in "-_" for c in token)
