"""API token scopes: a token does only what it was given (push opportunities, update requalifications,
read); tokens made before scopes keep every scope; the CLI and the admin page choose them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text

from app.api.models import ALL_SCOPES, ApiToken, Scope, hash_token
from app.api.service import create_token
from app.auth.models import Role
from app.crm.models import Opportunity
from app.db_types import utcnow
from app.extensions import db

ITEM = {
    "crm_source": "salesforce",
    "crm_id": "006S1",
    "name": "Scoped deal",
    "stage": "Closed Lost",
    "account": {"crm_id": "001S", "name": "Scope Co"},
}


def _bearer(*scopes: str) -> dict:
    _, secret = create_token("crm-" + "-".join(scopes).replace(":", "_"), scopes=scopes, now=utcnow())
    db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


def _forbidden(response, doing: str) -> None:
    assert response.status_code == 403
    error = response.get_json()["error"]
    assert error["code"] == "forbidden"
    assert error["message"].startswith(f"This API token may not {doing}")


def test_a_read_only_token_reads_but_cannot_push_nor_update_a_requalification(client):
    headers = _bearer(Scope.READ)
    assert client.get("/api/v1/opportunities", headers=headers).status_code == 200
    _forbidden(client.post("/api/v1/opportunities", json=[ITEM], headers=headers), "push opportunities")
    assert db.session.scalar(select(func.count()).select_from(Opportunity)) == 0
    patch = client.patch("/api/v1/requalifications/1", json={"crm_opportunity_id": "006X"}, headers=headers)
    _forbidden(patch, "update requalifications")


def test_a_push_token_pushes_but_cannot_read(client):
    headers = _bearer(Scope.PUSH)
    assert client.post("/api/v1/opportunities", json=[ITEM], headers=headers).get_json()["created"] == 1
    _forbidden(client.get("/api/v1/opportunities", headers=headers), "read")


def test_a_token_made_before_scopes_keeps_every_scope(client):
    # As migration 0026 finds an existing row: inserted without the column, the default fills it.
    db.session.execute(
        text(
            "INSERT INTO api_tokens (name, token_hash, prefix, created_at) "
            "VALUES ('legacy', :hash, 'wb_legacy', :now)"
        ),
        {"hash": hash_token("wb_legacy-secret"), "now": datetime(2026, 1, 1, tzinfo=UTC)},
    )
    db.session.commit()
    assert db.session.scalar(select(ApiToken.scopes).where(ApiToken.name == "legacy")) == ALL_SCOPES
    headers = {"Authorization": "Bearer wb_legacy-secret"}
    assert client.post("/api/v1/opportunities", json=[ITEM], headers=headers).status_code == 200
    assert client.get("/api/v1/opportunities", headers=headers).status_code == 200


def test_the_cli_creates_a_token_with_the_scopes_asked_and_every_scope_by_default(runner):
    result = runner.invoke(args=["api-tokens", "create", "reader", "--scope", "read"])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(ApiToken.scopes).where(ApiToken.name == "reader")) == ["read"]
    assert runner.invoke(args=["api-tokens", "create", "everything"]).exit_code == 0
    assert db.session.scalar(select(ApiToken.scopes).where(ApiToken.name == "everything")) == ALL_SCOPES
    refused = runner.invoke(args=["api-tokens", "create", "odd", "--scope", "delete"])
    assert refused.exit_code != 0
    assert "delete" in refused.output


@pytest.mark.parametrize(("ticked", "stored"), [(["read"], ["read"]), ([], None)])
def test_the_admin_page_creates_a_token_with_the_ticked_scopes(client, login, make_user, ticked, stored):
    login(make_user(Role.ADMIN))
    page = client.post("/imports/api-tokens", data={"name": "page-token", "scopes": ticked})
    html = page.get_data(as_text=True)
    assert db.session.scalar(select(ApiToken.scopes).where(ApiToken.name == "page-token")) == stored
    if stored:
        assert "Copy it now" in html
        assert "<td>Read</td>" in client.get("/imports/api-tokens").get_data(as_text=True)
    else:
        assert "Choose at least one thing the token may do." in html
