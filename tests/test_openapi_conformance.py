"""The API answers what app/api/openapi.json says: nullable fields, every error status, 405 for TRACE."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from app.api.service import create_token
from app.crm.models import Account
from app.db_types import utcnow
from app.extensions import db

SPEC = json.loads((Path(__file__).parents[1] / "app" / "api" / "openapi.json").read_text())
JSON_TYPES = {
    "string": str,
    "integer": int,
    "boolean": bool,
    "object": dict,
    "array": list,
    "null": type(None),
    "number": (int, float),
}


def _resolve(schema: dict) -> dict:
    while "$ref" in schema:
        node = SPEC
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def type_errors(value, schema: dict, where: str = "$") -> list[str]:
    """Where `value` breaks the spec's types (the part of JSON Schema this API's spec uses)."""
    schema = _resolve(schema)
    types = schema.get("type")
    if types is not None:
        allowed = [types] if isinstance(types, str) else types
        python = tuple(
            t for name in allowed for t in (JSON_TYPES[name],) for t in (t if isinstance(t, tuple) else (t,))
        )
        if isinstance(value, bool) and "boolean" not in allowed or not isinstance(value, python):
            return [f"{where}: {value!r} is not {allowed}"]
    errors = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in schema.get("properties", {}):
                errors += type_errors(item, schema["properties"][key], f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            errors += type_errors(item, schema["items"], f"{where}[{index}]")
    return errors


@pytest.fixture
def headers() -> dict:
    _, secret = create_token("conformance", now=utcnow())
    db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_an_opportunity_with_only_its_required_fields_reads_back_as_the_spec_says(
    client, headers, make_contact
):
    pushed = client.post(
        "/api/v1/opportunities",
        json=[
            {
                "crm_id": "006MIN",
                "name": "Minimal",
                "stage": "Closed Lost",
                "account": {"name": "Acme"},
                "contacts": [{"first_name": "Ada"}],
            }
        ],
        headers=headers,
    )
    assert pushed.get_json()["created"] == 1
    account = db.session.scalar(select(Account).where(Account.name == "Acme"))
    make_contact(account=account, first_name="Grace", email=None, phone=None)
    db.session.commit()
    listed = client.get("/api/v1/opportunities", headers=headers).get_json()
    opportunity = listed["items"][0]
    assert opportunity["amount"] is None
    assert opportunity["contacts"][0]["phone"] is None
    schema = SPEC["paths"]["/opportunities"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]
    assert type_errors(listed, schema) == []


def test_every_operation_documents_the_errors_it_can_answer():
    for path, operations in SPEC["paths"].items():
        for method, operation in operations.items():
            expected = {"400", "401", "422"} | ({"415"} if method in ("post", "patch") else set())
            assert expected <= set(operation["responses"]), (method, path)


@pytest.mark.parametrize("method", ["TRACE", "PUT", "DELETE"])
def test_a_method_the_api_does_not_have_is_a_405_even_with_a_json_body(client, headers, method):
    response = client.open(
        "/api/v1/opportunities",
        method=method,
        data="{}",
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 405


def test_a_body_that_is_not_json_is_a_415(client, headers):
    response = client.post("/api/v1/opportunities", data={"crm_id": "x"}, headers=headers)
    assert response.status_code == 415
    assert "Content-Type: application/json" in response.get_json()["error"]["message"]


@pytest.mark.parametrize("phone", [{}, [], 415, True])
def test_a_contact_phone_that_is_not_a_string_fails_its_item_naming_the_field(client, headers, phone):
    item = {
        "crm_id": "006P",
        "name": "P",
        "stage": "Closed Lost",
        "account": {"name": "Acme"},
        "contacts": [{"first_name": "Ada", "phone": phone}],
    }
    result = client.post("/api/v1/opportunities", json=[item], headers=headers).get_json()
    assert result["failed"] == 1
    assert result["items"][0]["error"]["field"] == "contacts[0].phone"
