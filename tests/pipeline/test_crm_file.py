"""The CRM file (issue 20, item 5): only the new accepted deals by default, every one with --all; the
Close Date always set and the Stage from a setting; exporting marks the rows."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlalchemy import select

from app.auth.models import Role
from app.crm.importing.models import ImportRowError
from app.extensions import db
from app.pipeline.models import Requalification
from tests.pipeline.crm_helpers import accepted_requalification
from tests.pipeline.test_crm_round_trip import crm_row
from tests.test_crm_import import SF_HEADER, import_path, write_csv


@pytest.fixture
def accepted(respond, make_user, make_account, make_opportunity) -> Requalification:
    return accepted_requalification(
        respond,
        make_user,
        make_account,
        make_opportunity,
        account_crm_id="001A",
        deal_crm_id="006LOST",
        next_step_date=date(2026, 11, 30),
    )


def export(runner, tmp_path, *args: str) -> list[dict]:
    path = tmp_path / "out.csv"
    result = runner.invoke(args=["pipeline", "export", "--format", "salesforce", *args, str(path)])
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))


def test_a_second_export_sends_only_new_deals_and_all_sends_them_again(runner, tmp_path, accepted):
    first = export(runner, tmp_path)
    again = export(runner, tmp_path)
    every = export(runner, tmp_path, "--all")

    assert [row["Winback ID"] for row in first] == [accepted.winback_id]
    assert again == []
    assert [row["Winback ID"] for row in every] == [accepted.winback_id]
    db.session.expire_all()
    assert accepted.exported_at is not None


def test_a_deal_already_in_the_crm_is_left_out_unless_all(runner, tmp_path, accepted):
    accepted.crm_opportunity_id = "006FROMSYNC"  # pushed by the live sync, or set through the API
    db.session.commit()

    assert export(runner, tmp_path) == []
    assert len(export(runner, tmp_path, "--all")) == 1


def test_the_close_date_is_the_acceptance_plus_the_setting_and_the_stage_a_setting(
    runner, tmp_path, accepted, app, monkeypatch
):
    monkeypatch.setitem(app.config, "CRM_EXPECTED_CLOSE_DAYS", 45)
    monkeypatch.setitem(app.config, "SALESFORCE_PUSH_STAGE", "Prospecting")

    [row] = export(runner, tmp_path)

    assert row["Close Date"] == "2027-01-07"  # accepted 2026-11-23 + 45 days, not the next step's date
    assert row["Stage"] == "Prospecting"


def test_the_page_offers_only_new_by_default_and_all_on_request(client, login, make_user, accepted):
    login(make_user(Role.SALES_MANAGER))

    first = client.post("/pipeline/export", data={"format": "hubspot"}).get_data(as_text=True)
    second = client.post("/pipeline/export", data={"format": "hubspot"}).get_data(as_text=True)
    every = client.post("/pipeline/export", data={"format": "hubspot", "which": "all"}).get_data(as_text=True)

    assert accepted.winback_id in first
    assert accepted.winback_id not in second
    assert accepted.winback_id in every
    assert "Only those not yet in the CRM" in client.get("/pipeline/recycled").get_data(as_text=True)


def test_a_second_deal_claiming_a_linked_winback_id_is_a_warning_naming_both(runner, tmp_path, accepted):
    header = [*SF_HEADER, "Winback ID"]
    first = write_csv(
        tmp_path / "a.csv", header, [crm_row("006NEW", "Prospecting", "20000", accepted.winback_id)]
    )
    import_path(runner, first)
    second = write_csv(
        tmp_path / "b.csv",
        header,
        [
            crm_row("006NEW", "Negotiation", "20000", accepted.winback_id),
            crm_row("006DUP", "Prospecting", "9000", accepted.winback_id),
        ],
    )

    counts = import_path(runner, second)

    assert (counts["created"], counts["updated"], counts["warnings"]) == (1, 1, 1)
    [warning] = db.session.scalars(
        select(ImportRowError).where(ImportRowError.batch_id == counts["batch_id"])
    )
    assert warning.line == 3
    assert warning.column == "Winback ID"
    assert warning.message == (
        f"Winback ID {accepted.winback_id} is already linked to the CRM deal 006NEW: "
        "this deal (006DUP) was imported without the link"
    )
    db.session.expire_all()
    assert accepted.recycled_opportunity.crm_id == "006NEW"


def test_two_new_deals_claiming_one_winback_id_in_one_file_link_the_first_and_warn_on_the_second(
    runner, tmp_path, accepted
):
    header = [*SF_HEADER, "Winback ID"]
    both = write_csv(
        tmp_path / "both.csv",
        header,
        [
            crm_row("006FIRST", "Prospecting", "20000", accepted.winback_id),
            crm_row("006SECOND", "Prospecting", "9000", accepted.winback_id.lower()),
        ],
    )

    counts = import_path(runner, both)

    assert (counts["created"], counts["warnings"]) == (2, 1)
    [warning] = db.session.scalars(
        select(ImportRowError).where(ImportRowError.batch_id == counts["batch_id"])
    )
    assert warning.line == 3
    assert warning.message == (
        f"Winback ID {accepted.winback_id} is claimed by the CRM deal 006FIRST on an earlier row: "
        "this deal (006SECOND) was imported without the link"
    )
    db.session.expire_all()
    assert accepted.recycled_opportunity.crm_id == "006FIRST"
