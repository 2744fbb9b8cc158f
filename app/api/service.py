"""API tokens and the JSON shape of opportunities, in and out."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from app.api.models import ALL_SCOPES, ApiToken, Scope, hash_token
from app.crm.importing.formats import Mapping
from app.crm.importing.records import AccountIn, ContactIn, Record, stage_flags
from app.crm.importing.upsert import Upserter
from app.crm.importing.values import parse_amount
from app.crm.models import Opportunity
from app.errors import Conflict, ValidationError
from app.extensions import db
from app.i18n.languages import normalise_language
from app.validation import (
    normalize_country,
    normalize_currency,
    normalize_email,
    normalize_phone,
    normalize_timezone,
    strip_control_characters,
)

TOKEN_PREFIX = "wb_"  # noqa: S105 (a prefix, not a secret)


def create_token(
    name: str,
    *,
    scopes: Iterable[str] | None = None,
    created_by_id: int | None = None,
    now: datetime,
) -> tuple[ApiToken, str]:
    """Create a token allowed `scopes` (every scope when not given); the secret is returned once and only
    its hash is stored."""
    name = name.strip()
    if not name:
        raise ValidationError("Give the token a name (the integration it is for)", field="name")
    chosen = _scopes(scopes)
    if db.session.scalar(select(ApiToken.id).where(ApiToken.name == name)):
        raise Conflict(f"A token named '{name}' already exists", field="name")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        token_hash=hash_token(secret),
        prefix=secret[:10],
        created_by_id=created_by_id,
        created_at=now,
        scopes=chosen,
    )
    db.session.add(token)
    db.session.flush()
    return token, secret


def _scopes(scopes: Iterable[str] | None) -> list[str]:
    """The scopes asked for, in their usual order; an unknown one or none at all is refused."""
    if scopes is None:
        return list(ALL_SCOPES)
    asked = set(scopes)
    unknown = sorted(asked - set(ALL_SCOPES))
    if unknown:
        known = ", ".join(ALL_SCOPES)
        raise ValidationError(f"Unknown scope {unknown[0]!r}: choose among {known}", field="scopes")
    if not asked:
        raise ValidationError("Choose at least one thing the token may do", field="scopes")
    return [value for value in ALL_SCOPES if value in asked]


def scope_refusal(token: ApiToken, scope: str) -> str | None:
    """Why this token may not do what needs `scope`, or None when it may."""
    if token.allows(scope):
        return None
    allowed = ", ".join(token.scopes or []) or "none"
    return f"This API token may not {Scope(scope).label.lower()} (its scopes: {allowed})"


def revoke_token(token: ApiToken, *, now: datetime) -> None:
    if token.revoked_at is None:
        token.revoked_at = now
        db.session.flush()


def token_for(secret: str) -> ApiToken | None:
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    return token if token is not None and token.active else None


def _text(item: dict, key: str, limit: int = 255) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValidationError(f"'{key}' must be a string", field=key)
    text = strip_control_characters(str(value)).strip()
    return text[:limit] or None


def _string(item: dict, key: str, *, field: str | None = None) -> str | None:
    """A JSON string field, or None when absent or empty; another JSON type is a clear error."""
    value = item.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValidationError(f"'{key}' must be a string", field=field or key)
    return value


def _boolean(item: dict, key: str) -> bool:
    """A JSON boolean: "false" as a string would read as true, so it is refused instead."""
    value = item[key]
    if not isinstance(value, bool):
        raise ValidationError(f"'{key}' must be a JSON boolean (true or false, without quotes)", field=key)
    return value


def _amount_text(item: dict) -> str | None:
    value = item.get("amount")
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValidationError("'amount' must be a number or a string", field="amount")
    return str(value)


def _contact_from_json(person: Any, index: int, region: str) -> ContactIn:
    """One item of `contacts`; a phone without a country code is read in the contact's country, else
    `region` (the account's country, else the default)."""
    if not isinstance(person, dict):
        raise ValidationError("each contact must be an object", field=f"contacts[{index}]")
    field = f"contacts[{index}]"
    email_text = _string(person, "email", field=f"{field}.email")
    country_text = _string(person, "country", field=f"{field}.country")
    country = normalize_country(country_text, field=f"{field}.country") if country_text else None
    phone_text = _string(person, "phone", field=f"{field}.phone")
    timezone_text = _string(person, "timezone", field=f"{field}.timezone")
    return ContactIn(
        crm_id=_text(person, "crm_id"),
        first_name=_text(person, "first_name", 120),
        last_name=_text(person, "last_name", 120),
        title=_text(person, "title"),
        email=normalize_email(email_text, field=f"{field}.email") if email_text else None,
        phone=normalize_phone(phone_text, country or region, field=f"{field}.phone") if phone_text else None,
        timezone=normalize_timezone(timezone_text, field=f"{field}.timezone") if timezone_text else None,
        state=_text(person, "state", 64),
        country=country,
        language=_language(person, f"{field}.language"),
    )


def _language(person: dict, field: str) -> str | None:
    text = _string(person, "language", field=field)
    if not text:
        return None
    language = normalise_language(text)
    if language is None:
        raise ValidationError(
            "language must be one of en, de, fr, es, nl (or that language's name)", field=field
        )
    return language


def record_from_json(item: Any, *, default_country: str = "US", default_currency: str = "USD") -> Record:
    """Validate one pushed opportunity; raise ValidationError naming the field."""
    if not isinstance(item, dict):
        raise ValidationError("Each item must be a JSON object")
    crm_id, name, stage = _text(item, "crm_id"), _text(item, "name"), _text(item, "stage", 120)
    for key, value in (("crm_id", crm_id), ("name", name), ("stage", stage)):
        if not value:
            raise ValidationError(f"'{key}' is required", field=key)
    account = item.get("account")
    if not isinstance(account, dict) or not (_text(account, "crm_id") or _text(account, "name")):
        raise ValidationError("'account' with a crm_id or a name is required", field="account")
    account_name = _text(account, "name") or _text(account, "crm_id")
    account_in = AccountIn(
        crm_id=_text(account, "crm_id") or f"name:{account_name.lower()}",
        name=account_name,
        domain=_text(account, "domain"),
        industry=_text(account, "industry", 120),
        segment=_text(account, "segment", 64),
        region=_text(account, "region", 64),
        country=(_text(account, "country", 2) or "").upper() or None,
    )
    amount, symbol_currency = (None, None)
    amount_text = _amount_text(item)
    if amount_text is not None:
        amount, symbol_currency = parse_amount(amount_text, column="amount")
    currency_text = _string(item, "currency")
    currency = normalize_currency(currency_text) if currency_text else symbol_currency or default_currency
    close_date = None
    close_text = _string(item, "close_date")
    if close_text:
        try:
            close_date = date.fromisoformat(close_text[:10])
        except ValueError:
            raise ValidationError(
                f"close_date '{close_text[:40]}' is not an ISO date", field="close_date"
            ) from None
    is_closed, is_won = stage_flags(stage, Mapping(format="api", columns={}))
    if "is_closed" in item:
        is_closed = _boolean(item, "is_closed")
    if "is_won" in item:
        is_won = _boolean(item, "is_won")
        is_closed = is_closed or is_won
    contacts = []
    raw_contacts = item.get("contacts") or []
    if not isinstance(raw_contacts, list):
        raise ValidationError("'contacts' must be a list", field="contacts")
    for index, person in enumerate(raw_contacts):
        contacts.append(_contact_from_json(person, index, account_in.country or default_country))
    return Record(
        crm_id=crm_id,
        name=name,
        stage=stage,
        is_closed=is_closed,
        is_won=is_won,
        account=account_in,
        amount=amount,
        currency=currency,
        close_date=close_date,
        owner=_text(item, "owner"),
        loss_reason=_text(item, "crm_loss_reason"),
        competitor=_text(item, "competitor"),
        product=_text(item, "product"),
        contacts=contacts,
    )


MAX_ITEMS = 1000


def push_opportunity_items(
    items: Any,
    *,
    source_label: str,
    now: datetime,
    default_country: str = "US",
    default_currency: str = "USD",
) -> dict[str, Any]:
    """Upsert pushed opportunities item by item: each one's outcome, or its error, and the counts.

    A phone without a country code is read in `default_country`; an amount without a currency is in
    `default_currency` (the app's DEFAULT_PHONE_REGION and DEFAULT_CURRENCY).
    """
    if not isinstance(items, list):
        raise ValidationError("The body must be a JSON list of opportunities")
    if len(items) > MAX_ITEMS:
        raise ValidationError(f"At most {MAX_ITEMS} opportunities per request; this one has {len(items)}")
    results: list[dict] = [{} for _ in items]
    by_source: dict[str, list[tuple[int, Record]]] = {}
    seen = set()
    for index, item in enumerate(items):
        try:
            record = record_from_json(
                item, default_country=default_country, default_currency=default_currency
            )
            source = _text(item, "crm_source", 32) or "api"
        except ValidationError as error:
            results[index] = {"index": index, "status": "failed", **error.to_json()}
            continue
        if (source, record.crm_id) in seen:
            results[index] = {
                "index": index,
                "status": "failed",
                "error": {
                    "code": "duplicate",
                    "message": f"crm_id '{record.crm_id}' appears twice in this request",
                    "field": "crm_id",
                },
            }
            continue
        seen.add((source, record.crm_id))
        by_source.setdefault(source, []).append((index, record))
    for source, pairs in by_source.items():
        upserter = Upserter(source, now=now, actor_label=source_label, batch_id=None)
        outcomes = upserter.upsert([record for _, record in pairs])
        for (index, record), outcome in zip(pairs, outcomes, strict=True):
            results[index] = {
                "index": index,
                "status": outcome.status,
                "crm_id": record.crm_id,
                "id": outcome.opportunity_id,
            }
    summary = {
        s: sum(1 for r in results if r["status"] == s) for s in ("created", "updated", "unchanged", "failed")
    }
    return {"items": results, **summary}


def opportunity_json(opp: Opportunity) -> dict[str, Any]:
    contacts = [c for c in opp.account.contacts if c.erased_at is None]
    if opp.primary_contact is not None:
        contacts.sort(key=lambda c: c.id != opp.primary_contact_id)
    return {
        "id": opp.id,
        "crm_source": opp.crm_source,
        "crm_id": opp.crm_id,
        "name": opp.name,
        "stage": opp.stage,
        "status": opp.status,
        "is_closed": opp.is_closed,
        "is_won": opp.is_won,
        "amount": str(opp.amount.quantize(Decimal("0.01"))) if opp.amount is not None else None,
        "currency": opp.currency,
        "close_date": opp.close_date.isoformat() if opp.close_date else None,
        "owner": opp.owner,
        "crm_loss_reason": opp.crm_loss_reason,
        "competitor": opp.competitor.name if opp.competitor else opp.competitor_raw,
        "product": opp.product,
        "updated_at": opp.updated_at.isoformat(),
        "account": {"crm_id": opp.account.crm_id, "name": opp.account.name},
        "contacts": [
            {
                "first_name": c.first_name,
                "last_name": c.last_name,
                "email": c.email,
                "phone": c.phone,
                "timezone": c.timezone,
                "state": c.state,
                "country": c.country,
                "language": c.language,
            }
            for c in contacts
        ],
    }
