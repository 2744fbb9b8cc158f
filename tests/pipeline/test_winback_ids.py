"""A malformed Winback ID ('WB-²': '²' passes str.isdigit) fails its own row of a CRM import, and one
already stored breaks neither a later import nor the API's PATCH."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.api.service import create_token
from app.crm.importing.models import BatchStatus, ImportBatch, ImportRowError
from app.crm.importing.values import parse_winback_id, winback_number
from app.crm.models import Opportunity
from app.db_types import utcnow
from app.errors import ValidationError
from app.extensions import db
from tests.pipeline.test_crm_round_trip import accepted, crm_row  # noqa: F401 (a fixture)
from tests.test_crm_import import SF_HEADER, import_path, write_csv

HEADER = [*SF_HEADER, "Winback ID"]


@pytest.mark.parametrize("text", ["WB-²", "WB-١٢", "WB-", "WB-12a", "12", "WB-1234567890123456789"])
def test_only_wb_and_ascii_digits_is_a_winback_id(text):
    assert winback_number(text) is None
    with pytest.raises(ValidationError) as raised:
        parse_winback_id(text)
    assert raised.value.field == "Winback ID"


def test_a_winback_id_reads_its_number_whatever_the_case_and_spaces():
    assert winback_number(" wb-42 ") == 42


def test_a_malformed_winback_id_fails_its_row_alone_naming_the_column(runner, tmp_path, accepted):  # noqa: F811
    path = write_csv(
        tmp_path / "crm.csv",
        HEADER,
        [
            crm_row("006BAD", "Prospecting", "100", "WB-²"),
            crm_row("006NEW", "Prospecting", "20000", f"WB-{accepted.id}"),
        ],
    )
    counts = import_path(runner, path)
    assert (counts["created"], counts["failed"]) == (1, 1)
    batch = db.session.scalar(select(ImportBatch))
    assert batch.status is BatchStatus.DONE
    error = db.session.scalar(select(ImportRowError))
    assert (error.line, error.column) == (2, "Winback ID")
    assert "'WB-²' is not a Winback ID" in error.message
    assert db.session.scalar(select(Opportunity).where(Opportunity.crm_id == "006BAD")) is None
    linked = db.session.scalar(select(Opportunity).where(Opportunity.crm_id == "006NEW"))
    assert accepted.recycled_opportunity_id == linked.id  # the good row still links its deal


def test_a_malformed_winback_id_already_stored_breaks_no_import_nor_patch(
    runner,
    client,
    tmp_path,
    accepted,  # noqa: F811
    make_opportunity,
):
    make_opportunity(crm_id="006OLD", stage="Prospecting", is_closed=False, raw={"Winback ID": "WB-²"})
    _, secret = create_token("crm", now=utcnow())
    db.session.commit()

    response = client.patch(
        f"/api/v1/requalifications/{accepted.id}",
        json={"crm_opportunity_id": "006API"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["crm_opportunity_id"] == "006API"

    import_path(runner, write_csv(tmp_path / "later.csv", HEADER, [crm_row("006API", "Closed Won", "5000")]))
    batch = db.session.scalar(select(ImportBatch))
    assert batch.status is BatchStatus.DONE
    db.session.expire_all()
    assert accepted.recycled_opportunity_id == db.session.scalar(
        select(Opportunity.id).where(Opportunity.crm_id == "006API")
    )


def test_re_patching_a_linked_requalification_keeps_its_crm_id_and_link_together(
    runner,
    client,
    tmp_path,
    accepted,  # noqa: F811
):
    _, secret = create_token("crm", now=utcnow())
    db.session.commit()
    url = f"/api/v1/requalifications/{accepted.id}"
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.patch(url, json={"crm_opportunity_id": "006API"}, headers=headers).status_code == 200
    # The CRM's import links the deal by its Winback ID, under another id than the one sent before.
    import_path(
        runner,
        write_csv(
            tmp_path / "crm.csv", HEADER, [crm_row("006NEW", "Prospecting", "100", f"WB-{accepted.id}")]
        ),
    )
    linked = db.session.scalar(select(Opportunity).where(Opportunity.crm_id == "006NEW"))
    db.session.expire_all()
    assert (accepted.recycled_opportunity_id, accepted.crm_opportunity_id) == (linked.id, "006NEW")

    moved = client.patch(url, json={"crm_opportunity_id": "006OTHER"}, headers=headers)
    assert moved.status_code == 409
    assert "already linked to the CRM's opportunity 006NEW" in moved.get_json()["error"]["message"]
    again = client.patch(url, json={"crm_opportunity_id": "006NEW"}, headers=headers)
    assert again.status_code == 200
    assert again.get_json()["crm_opportunity_id"] == "006NEW"
    assert again.get_json()["recycled_opportunity_id"] == linked.id
    db.session.expire_all()
    assert (accepted.recycled_opportunity_id, accepted.crm_opportunity_id) == (linked.id, "006NEW")
