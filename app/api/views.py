"""POST/GET /api/v1/opportunities and the OpenAPI description; bearer tokens, JSON errors."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.api.service import opportunity_json, record_from_json
from app.auth.guard import api_token_required, public
from app.crm.importing.upsert import Upserter
from app.crm.models import Account, Opportunity
from app.crm.service import with_status
from app.crm.signals import opportunities_imported
from app.db_types import utcnow
from app.errors import ValidationError
from app.extensions import csrf, db, limiter

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # token-authenticated, never cookie-authenticated


def _api_rate_limit() -> str:
    return current_app.config["API_RATE_LIMIT"]


limiter.limit(_api_rate_limit)(bp)  # per address, every API route
MAX_ITEMS = 1000
PAGE_SIZE = 100
OPENAPI = Path(__file__).with_name("openapi.json")


@bp.post("/opportunities")
@api_token_required
def push_opportunities():
    items = request.get_json(silent=True)
    if not isinstance(items, list):
        raise ValidationError("The body must be a JSON list of opportunities")
    if len(items) > MAX_ITEMS:
        raise ValidationError(f"At most {MAX_ITEMS} opportunities per request; this one has {len(items)}")
    now = utcnow()
    results: list[dict] = [{} for _ in items]
    by_source: dict[str, list[tuple[int, object]]] = {}
    seen = set()
    for index, item in enumerate(items):
        try:
            record = record_from_json(item)
        except ValidationError as error:
            results[index] = {"index": index, "status": "failed", **error.to_json()}
            continue
        source = str(item.get("crm_source") or "api")[:32]
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
        upserter = Upserter(source, now=now, actor_label=f"api:{g.api_token.name}", batch_id=None)
        outcomes = upserter.upsert([record for _, record in pairs])
        for (index, record), outcome in zip(pairs, outcomes, strict=True):
            results[index] = {
                "index": index,
                "status": outcome.status,
                "crm_id": record.crm_id,
                "id": outcome.opportunity_id,
            }
    g.api_token.last_used_at = now
    for source in by_source:
        opportunities_imported.send(source, now=now)
    db.session.commit()
    summary = {
        s: sum(1 for r in results if r["status"] == s) for s in ("created", "updated", "unchanged", "failed")
    }
    return jsonify({"items": results, **summary}), 200


@bp.get("/opportunities")
@api_token_required
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
