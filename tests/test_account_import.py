"""Account files: rows that are accounts, matched to the accounts deal exports brought in; audited changes."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.crm.importing.formats import Mapping
from app.crm.importing.models import ImportRowError
from app.crm.importing.records import ImportSettings
from app.crm.importing.service import save_mapping
from app.crm.models import Account, Opportunity
from app.extensions import db
from tests.test_crm_import import SF_HEADER, count, import_path, sf_rows, write_csv
from tests.test_crm_import_concurrent import maven_pipeline_mapping

ACCOUNT_REPORT = ["Account ID", "Account Name", "Industry", "Billing Country", "Employees", "Website"]


def test_a_salesforce_account_report_is_read_as_accounts_and_enriches_the_deals_accounts(runner, tmp_path):
    rows = [r for r in sf_rows() if r[0] in ("006A1", "006A2")][:2]
    assert import_path(runner, write_csv(tmp_path / "deals.csv", SF_HEADER, rows))["created"] == 2
    acme = db.session.scalar(select(Account).where(Account.crm_id == "001A"))
    assert acme.employees is None

    accounts = [
        ["001A", "Acme Corp", "Manufacturing", "Germany", "1,200", "acme.example"],
        ["001Z", "Zenith Ltd", "Retail", "GB", "", ""],
        ["001Y", "Broken Inc", "", "", "about forty", ""],
        ["001A", "Acme Corp again", "", "", "", ""],
    ]
    counts = import_path(runner, write_csv(tmp_path / "accounts.csv", ACCOUNT_REPORT, accounts))

    # 'about forty' employees is left out with a warning; the account is imported (issue #12).
    assert (counts["created"], counts["updated"], counts["unchanged"], counts["failed"]) == (2, 1, 0, 1)
    assert counts["warnings"] == 1
    db.session.refresh(acme)
    assert (acme.industry, acme.country, acme.employees, acme.domain) == (
        "Manufacturing",
        "DE",
        1200,
        "acme.example",
    )
    assert acme.name == "Acme Corp"
    zenith = db.session.scalar(select(Account).where(Account.crm_id == "001Z"))
    assert (zenith.name, zenith.country, zenith.industry) == ("Zenith Ltd", "GB", "Retail")
    assert count(Opportunity) == 2  # an account file never creates deals
    errors = {e.line: e for e in db.session.scalars(select(ImportRowError))}
    assert errors[4].column == "Employees"
    assert errors[4].is_warning
    assert "about forty" in errors[4].message
    assert "twice" in errors[5].message
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "account.import_updated"))
    assert event.entity_id == acme.id
    assert event.details["changes"]["employees"] == [None, 1200]
    assert event.details["changes"]["country"] == ["US", "DE"]
    assert event.details["batch_id"] == counts["batch_id"]

    again = import_path(runner, write_csv(tmp_path / "accounts.csv", ACCOUNT_REPORT, accounts[:2]))
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)


def test_a_blank_cell_in_an_account_file_keeps_what_is_stored(runner, tmp_path):
    write_csv(tmp_path / "a.csv", ACCOUNT_REPORT, [["001A", "Acme", "Retail", "US", "50", "acme.example"]])
    import_path(runner, tmp_path / "a.csv")
    write_csv(tmp_path / "b.csv", ACCOUNT_REPORT, [["001A", "Acme", "", "", "60", ""]])

    counts = import_path(runner, tmp_path / "b.csv")

    assert counts["updated"] == 1
    acme = db.session.scalar(select(Account).where(Account.crm_id == "001A"))
    assert (acme.industry, acme.country, acme.employees, acme.domain) == ("Retail", "US", 60, "acme.example")


def test_the_target_flag_reads_a_deal_file_as_accounts(runner, tmp_path):
    rows = [r for r in sf_rows() if r[0] in ("006A1", "006A2")][:2]
    deals = write_csv(tmp_path / "deals.csv", SF_HEADER, rows)

    counts = import_path(runner, deals, "--target", "accounts")

    assert counts["created"] == 1  # both rows name account 001A: the second is reported twice
    assert counts["failed"] == 1
    assert count(Opportunity) == 0


def test_an_account_changed_by_a_deal_import_is_audited(runner, tmp_path):
    header = [*SF_HEADER, "Industry"]
    rows = [[*r, "Retail"] for r in sf_rows() if r[0] == "006A1"]
    import_path(runner, write_csv(tmp_path / "a.csv", header, rows))
    rows[0][-1] = "Wholesale"

    counts = import_path(runner, write_csv(tmp_path / "b.csv", header, rows))

    assert counts["updated"] == 1
    acme = db.session.scalar(select(Account).where(Account.crm_id == "001A"))
    assert acme.industry == "Wholesale"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "account.import_updated"))
    assert event.entity_id == acme.id
    assert event.details["changes"] == {"industry": ["Retail", "Wholesale"]}


@pytest.mark.shared_data
def test_maven_accounts_file_enriches_the_pipeline_accounts(runner, shared_data):
    folder: Path = shared_data / "maven_crm_sales_opportunities"
    accounts = Mapping(
        format="generic",
        columns={
            "account_name": "account",
            "account_industry": "sector",
            "account_employees": "employees",
            "account_country": "office_location",
        },
        target="accounts",
    )
    save_mapping("maven", maven_pipeline_mapping(), ImportSettings(), crm_source="generic")
    save_mapping("maven-accounts", accounts, ImportSettings(), crm_source="generic")
    db.session.commit()
    import_path(runner, folder / "sales_pipeline.csv", "--mapping", "maven")
    pipeline_accounts = count(Account)

    counts = import_path(runner, folder / "accounts.csv", "--mapping", "maven-accounts")

    with (folder / "accounts.csv").open() as handle:
        listed = list(csv.DictReader(handle))
    assert counts["failed"] == 0
    assert counts["created"] + counts["updated"] + counts["unchanged"] == len(listed)
    assert count(Account) == pipeline_accounts + counts["created"]  # matched by name, not duplicated
    for row in listed[:5]:
        account = db.session.scalar(select(Account).where(Account.name == row["account"]))
        assert account.industry == row["sector"]
        assert account.employees == int(row["employees"])
    kenya = next(r for r in listed if r["office_location"] == "Kenya")
    assert db.session.scalar(select(Account.country).where(Account.name == kenya["account"])) == "KE"
    enriched = db.session.scalar(select(Account).where(Account.name == listed[0]["account"]))
    assert db.session.scalar(select(Opportunity.id).where(Opportunity.account_id == enriched.id)) is not None
    again = import_path(runner, folder / "accounts.csv", "--mapping", "maven-accounts")
    assert again["unchanged"] == len(listed)
