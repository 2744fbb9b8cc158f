"""The CRM connection an admin sets on the settings page: a Salesforce login (OAuth 2.0 JWT bearer, or
username, password and security token) or a HubSpot private-app token.

Secrets are encrypted at rest with Fernet (`cryptography`), keyed by CRM_SECRETS_KEY from the environment,
and never shown again: the page only says which are set. Settings from the environment (SALESFORCE_*,
HUBSPOT_*) take precedence: a stored login is used only for a CRM the environment leaves unconfigured.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select

from app.audit.service import record_event
from app.crm.sync.models import CrmCredential
from app.errors import ValidationError
from app.extensions import db

KEY_SETTING = "CRM_SECRETS_KEY"
CRM_NAMES = {"salesforce": "Salesforce", "hubspot": "HubSpot"}
METHODS = {"salesforce": ("jwt", "password"), "hubspot": ("token",)}
# (form field, config name) per method: the plain settings, then the secrets.
PLAIN = {
    "jwt": (
        ("instance_url", "INSTANCE_URL"),
        ("domain", "DOMAIN"),
        ("username", "USERNAME"),
        ("consumer_key", "CONSUMER_KEY"),
    ),
    "password": (("instance_url", "INSTANCE_URL"), ("domain", "DOMAIN"), ("username", "USERNAME")),
    "token": (("base_url", "BASE_URL"),),
}
SECRET = {
    "jwt": (("private_key", "PRIVATE_KEY"),),
    "password": (("password", "PASSWORD"), ("security_token", "SECURITY_TOKEN")),
    "token": (("access_token", "ACCESS_TOKEN"),),
}
REQUIRED = {
    "jwt": ("username", "consumer_key", "private_key"),
    "password": ("username", "password"),
    "token": ("access_token",),
}
LABELS = {
    "private_key": "private key",
    "password": "password",
    "security_token": "security token",
    "access_token": "private-app token",
    "username": "username",
    "consumer_key": "consumer key",
}


class SecretsKeyMissing(ValidationError):
    code = "secrets_key_missing"


def _fernet(config: Mapping[str, Any]) -> Fernet:
    key = config.get(KEY_SETTING)
    if not key:
        raise SecretsKeyMissing(
            f"Set {KEY_SETTING} in the environment (a key from Fernet.generate_key()) before storing a "
            "secret here, or give the CRM's settings through the environment instead."
        )
    try:
        return Fernet(key)
    except (ValueError, TypeError):
        raise SecretsKeyMissing(
            f"{KEY_SETTING} is not a Fernet key (32 url-safe base64-encoded bytes)."
        ) from None


def credential_for(source: str) -> CrmCredential | None:
    return db.session.scalar(select(CrmCredential).where(CrmCredential.crm_source == source))


def _secrets(credential: CrmCredential, config: Mapping[str, Any]) -> dict[str, str]:
    if not credential.secrets:
        return {}
    try:
        return json.loads(_fernet(config).decrypt(credential.secrets.encode()))
    except InvalidToken:
        raise SecretsKeyMissing(
            f"The stored {credential.crm_source} secrets cannot be read with this {KEY_SETTING}: "
            "enter them again."
        ) from None


def save_credential(
    source: str,
    method: str,
    values: Mapping[str, str | None],
    *,
    config: Mapping[str, Any],
    actor_label: str,
    now: datetime,
) -> CrmCredential:
    """Store a login. A secret left empty keeps the stored one (the page never shows it to be re-typed)."""
    if method not in METHODS.get(source, ()):
        raise ValidationError("Choose how Winback signs in to the CRM.", field="method")
    credential = credential_for(source)
    kept = _secrets(credential, config) if credential is not None and credential.method == method else {}
    plain = {name: (values.get(name) or "").strip() for name, _ in PLAIN[method]}
    secrets = {name: (values.get(name) or "").strip() or kept.get(name, "") for name, _ in SECRET[method]}
    missing = [LABELS[name] for name in REQUIRED[method] if not (plain.get(name) or secrets.get(name))]
    if missing:
        raise ValidationError(f"Give the {', '.join(missing)}.", field=REQUIRED[method][0])
    token = _fernet(config).encrypt(json.dumps(secrets).encode()).decode()
    if credential is None:
        credential = CrmCredential(crm_source=source)
        db.session.add(credential)
    credential.method, credential.settings, credential.secrets = method, plain, token
    credential.updated_at, credential.updated_by = now, actor_label
    db.session.flush()
    record_event(
        "crm.credential_saved",
        "crm_credential",
        credential.id,
        actor_label=actor_label,
        details={
            "crm": source,
            "method": method,
            "settings": plain,
            "secrets_set": sorted(k for k, v in secrets.items() if v),
        },
        now=now,
    )
    return credential


def effective_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The app's settings with the stored logins of the CRMs the environment leaves unconfigured."""
    from app.crm.sync.hubspot import HubSpotSettings
    from app.crm.sync.salesforce import SalesforceSettings

    merged = dict(config)
    configured = {
        "salesforce": SalesforceSettings.from_config(config).configured,
        "hubspot": HubSpotSettings.from_config(config).configured,
    }
    for credential in db.session.scalars(select(CrmCredential)):
        if configured.get(credential.crm_source, True):
            continue
        prefix = credential.crm_source.upper()
        for name, setting in PLAIN[credential.method]:
            if credential.settings.get(name):
                merged[f"{prefix}_{setting}"] = credential.settings[name]
        for name, setting in SECRET[credential.method]:
            value = _secrets(credential, config).get(name)
            if value:
                merged[f"{prefix}_{setting}"] = value
    return merged


@dataclass(frozen=True)
class Summary:
    """What the page may show of a stored login: never a secret, only whether each is set."""

    source: str
    method: str
    settings: dict[str, str]
    secrets_set: list[str]
    from_environment: bool
    updated_at: datetime | None
    updated_by: str | None


def summaries(config: Mapping[str, Any]) -> list[Summary]:
    from app.crm.sync.hubspot import HubSpotSettings
    from app.crm.sync.salesforce import SalesforceSettings

    environment = {
        "salesforce": SalesforceSettings.from_config(config).configured,
        "hubspot": HubSpotSettings.from_config(config).configured,
    }
    found = []
    for source in METHODS:
        credential = credential_for(source)
        if credential is None and not environment[source]:
            continue
        secrets_set: list[str] = []
        if credential is not None and credential.secrets:
            try:
                secrets_set = [LABELS[k] for k, v in _secrets(credential, config).items() if v]
            except SecretsKeyMissing:
                secrets_set = ["(unreadable with this key)"]
        found.append(
            Summary(
                source,
                credential.method if credential else "environment",
                dict(credential.settings) if credential else {},
                secrets_set,
                environment[source],
                credential.updated_at if credential else None,
                credential.updated_by if credential else None,
            )
        )
    return found
