"""POST/GET /api/v1/opportunities and the OpenAPI description; bearer tokens, JSON errors."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.api.guard import api_token_required
from app.api.models import Scope
from app.api.service import opportunity_json, push_opportunity_items
from app.auth.guard import public
from app.crm.models import Account, Opportunity
from app.crm.service import with_status
from app.crm.signals import opportunities_imported
from app.db_types import utcnow
from app.errors import ValidationError
from app.extensions import csrf, db, limiter
from app.security import json_body

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # token-authenticated, never cookie-authenticated


def _api_rate_limit() -> str:
    return current_app.config["API_RATE_LIMIT"]


limiter.limit(_api_rate_limit)(bp)  # per address, every API route
PAGE_SIZE = 100
OPENAPI = Path(__file__).with_name("openapi.json")


@bp.post("/opportunities")
@api_token_required(scope=Scope.PUSH)
def push_opportunities():
    now = utcnow()
    result = push_opportunity_items(
        json_body(),
        source_label=f"api:{g.api_token.name}",
        now=now,
        default_country=(current_app.config.get("DEFAULT_PHONE_REGION") or "US").upper(),
        default_currency=(current_app.config.get("DEFAULT_CURRENCY") or "USD").upper(),
    )
    g.api_token.last_used_at = now
    opportunities_imported.send("api", now=now)
    db.session.commit()
    return jsonify(result), 200


@bp.get("/opportunities")
@api_token_required(scope=Scope.READ)
def list_opportunities():
    args = request.args
    query = select(Opportunity).options(
        selectinload(Opportunity.account).selectinload(Account.contacts),
        selectinload(Opportunity.competitor),
    )
    status = args.get("status")
    if status:
        if status not in ("lost", "won", "open"):
            raise ValidationError("status must be lost, won or open", field="status")
        query = with_status(query, status)
    if args.get("crm_id"):
        query = query.where(Opportunity.crm_id == args["crm_id"])
    if args.get("crm_source"):
        query = query.where(Opportunity.crm_source == args["crm_source"])
    if args.get("updated_since"):
        try:
            since = datetime.fromisoformat(args["updated_since"].replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(
                "updated_since must be an ISO 8601 timestamp", field="updated_since"
            ) from None
        if since.tzinfo is None:
            raise ValidationError(
                "updated_since needs a timezone (e.g. 2026-11-23T00:00:00Z)", field="updated_since"
            )
        query = query.where(Opportunity.updated_at >= since)
    after = args.get("after", type=int) or 0
    limit = min(max(args.get("limit", PAGE_SIZE, type=int), 1), 500)
    rows = db.session.scalars(
        query.where(Opportunity.id > after).order_by(Opportunity.id).limit(limit + 1)
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_url = None
    if more:
        params = {k: v for k, v in args.items() if k != "after"}
        next_url = url_for("api.list_opportunities", after=rows[-1].id, _external=True, **params)
    return jsonify({"items": [opportunity_json(o) for o in rows], "next": next_url})


@bp.get("/openapi.json")
@public
def openapi():
    return Response(json.dumps(json.loads(OPENAPI.read_text())), mimetype="application/json")
