"""CRM import: real files, nasty exports, idempotence, the error file, concurrency, CLI."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.crm.importing.models import ImportBatch, ImportRowError
from app.crm.importing.service import error_file
from app.crm.models import (
    Account,
    Competitor,
    CompetitorMergeSuggestion,
    Contact,
    LossReasonMapping,
    Opportunity,
)
from app.extensions import db

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

SF_HEADER = [
    "Opportunity ID",
    "Opportunity Name",
    "Account Name",
    "Account ID",
    "Stage",
    "Amount",
    "Close Date",
    "Opportunity Owner",
    "Closed Lost Reason",
    "Competitor",
    "First Name",
    "Last Name",
    "Email",
    "Phone",
    "Billing Country",
]


def sf_rows():
    return [
        [
            "006A1",
            "Acme – Pro\nrenewal",
            "Acme Corp ",
            "001A",
            "Closed Lost",
            "$12,500.00",
            "11/23/2026",
            "Dana Owner",
            "Price",
            "Northwind",
            "Ann",
            "Lee",
            "Ann.Lee@Acme.example",
            "(415) 555-0132",
            "US",
        ],
        [
            "006A2",
            "Acme – Plus",
            "Acme Corp",
            "001A",
            "Closed Won",
            "USD 12500",
            "2026-10-01",
            "Dana Owner",
            "",
            "",
            "Bob",
            "Ray",
            "bob@acme.example",
            "",
            "US",
        ],
        ["", "", "", "", "", "", "", "", "", "", "", "", "", "", ""],
        [
            "006A3",
            "Globex – Starter",
            "Globex",
            "001B",
            "Closed Lost",
            "twelve",
            "11/23/2026",
            "Eve",
            "Timing",
            "",
            "",
            "",
            "",
            "",
            "US",
        ],
        [
            "006A4",
            "Initech – Pro",
            "Initech",
            "001C",
            "Closed Lost",
            "900",
            "11/23/2026",
            "Eve",
            "Budget",
            "northwind analytics inc.",
            "Cy",
            "Ho",
            "not-an-email",
            "",
            "US",
        ],
        [
            "006A1",
            "Acme – duplicate",
            "Acme Corp",
            "001A",
            "Closed Lost",
            "1",
            "11/23/2026",
            "Eve",
            "",
            "",
            "",
            "",
            "",
            "",
            "US",
        ],
    ]


def write_csv(path: Path, header, rows, *, encoding="utf-8", delimiter=",", bom=False) -> Path:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    text = ("\ufeff" if bom else "") + out.getvalue()
    path.write_bytes(text.encode(encoding))
    return path


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def import_path(runner, path: Path, *args: str) -> dict:
    result = runner.invoke(args=["crm", "import", str(path), "--json", *args])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    return json.loads(result.output.strip().splitlines()[-1])


def test_salesforce_report_with_nasty_cells_stores_clean_values_and_reports_bad_rows(runner, tmp_path):
    path = write_csv(tmp_path / "sf.csv", SF_HEADER, sf_rows(), bom=True)
    counts = import_path(runner, path)
    assert counts["created"] == 3  # the malformed email is left out: its deal is imported (issue #12)
    assert counts["failed"] == 2
    assert counts["warnings"] == 1
    assert counts["updated"] == 0

    first = db.session.scalar(select(Opportunity).where(Opportunity.crm_id == "006A1"))
    assert first.crm_source == "salesforce"
    assert first.name == "Acme – Pro\nrenewal"  # quoted newline kept
    assert first.amount == Decimal("12500.00")
    assert first.currency == "USD"
    assert first.close_date == date(2026, 11, 23)
    assert (first.is_closed, first.is_won, first.stage) == (True, False, "Closed Lost")
    assert first.crm_loss_reason == "Price"
    assert first.competitor_raw == "Northwind"
    assert first.account.name == "Acme Corp"  # trailing space trimmed
    assert first.primary_contact.email == "ann.lee@acme.example"
    assert first.primary_contact.phone == "+14155550132"
    won = db.session.scalar(select(Opportunity).where(Opportunity.crm_id == "006A2"))
    assert won.is_won
    assert won.amount == Decimal("12500.00")
    assert won.account_id == first.account_id
    assert count(Account) == 2  # the Globex row failed entirely
    warned = db.session.scalar(select(Opportunity).where(Opportunity.crm_id == "006A4"))
    assert warned.account.name == "Initech"
    assert warned.raw["Email"] == "not-an-email"  # kept as it came, never as the contact's address

    errors = db.session.scalars(select(ImportRowError).order_by(ImportRowError.line)).all()
    by_line = {e.line: e for e in errors}
    assert by_line[6].message == "Amount 'twelve' is not a number"
    assert by_line[6].column == "Amount"
    assert not by_line[6].is_warning
    assert by_line[7].column == "Email"
    assert by_line[7].is_warning
    assert "not-an-email" in by_line[7].message
    assert "006A1" in by_line[8].message
    assert "twice" in by_line[8].message
    assert set(by_line) == {6, 7, 8}  # lines counted with the multi-line cell and the blank line


def test_reimport_changes_nothing_and_a_changed_row_updates_with_an_audit_trail(runner, tmp_path):
    rows = [r for r in sf_rows() if r[0] in ("006A1", "006A2")][:2]
    path = write_csv(tmp_path / "sf.csv", SF_HEADER, rows)
    assert import_path(runner, path)["created"] == 2
    before = (count(Opportunity), count(Account), count(Contact), count(AuditEvent))
    again = import_path(runner, path)
    assert (again["created"], again["updated"], again["unchanged"], again["failed"]) == (0, 0, 2, 0)
    assert (count(Opportunity), count(Account), count(Contact)) == before[:3]
    assert count(AuditEvent) == before[3] + 1  # only the batch summary

    rows[1][4], rows[1][5] = "Closed Lost", "$13,000"
    changed = import_path(runner, write_csv(tmp_path / "sf2.csv", SF_HEADER, rows))
    assert (changed["updated"], changed["unchanged"]) == (1, 1)
    opp = db.session.scalar(select(Opportunity).where(Opportunity.crm_id == "006A2"))
    assert opp.stage == "Closed Lost"
    assert not opp.is_won
    assert opp.amount == Decimal("13000.00")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "opportunity.import_updated"))
    assert event.entity_id == opp.id
    assert event.details["changes"]["stage"] == ["Closed Won", "Closed Lost"]
    assert event.details["changes"]["amount"] == ["12500.00", "13000.00"]
    assert event.details["batch_id"] == changed["batch_id"]


def test_cp1252_semicolon_export_with_european_amounts_and_day_first_dates(runner, tmp_path):
    rows = [
        [
            "006E1",
            "Café Müller – Pro",
            "Café Müller GmbH",
            "Closed Lost",
            "12.500,00 €",
            "23.11.2026",
            "Jörg",
            "Preis zu hoch",
            "+49 30 901820",
            "DE",
        ]
    ]
    header = [
        "Opportunity ID",
        "Opportunity Name",
        "Account Name",
        "Stage",
        "Amount",
        "Close Date",
        "Opportunity Owner",
        "Loss Reason",
        "Phone",
        "Billing Country",
    ]
    path = write_csv(tmp_path / "de.csv", header, rows, encoding="cp1252", delimiter=";")
    wrong = import_path(runner, path)  # month-first by default: 23 is no month, and it says so
    assert wrong["failed"] == 1
    message = db.session.scalar(select(ImportRowError.message))
    assert "23.11.2026" in message
    assert "month first" in message
    right = import_path(runner, path, "--day-first")
    assert right["created"] == 1
    opp = db.session.scalar(select(Opportunity))
    assert opp.name == "Café Müller – Pro"
    assert opp.account.name == "Café Müller GmbH"
    assert opp.amount == Decimal("12500.00")
    assert opp.currency == "EUR"
    assert opp.close_date == date(2026, 11, 23)
    assert opp.owner == "Jörg"
    assert opp.account.country == "DE"


def test_utf16_tab_separated_hubspot_export(runner, tmp_path):
    header = [
        "Record ID",
        "Deal Name",
        "Deal Stage",
        "Amount",
        "Close Date",
        "Deal owner",
        "Closed Lost Reason",
        "Associated Company",
        "Associated Company IDs",
        "Associated Contact",
        "Email",
    ]
    rows = [
        [
            "9001",
            "Umbrella deal",
            "Closed Lost",
            "USD 12500",
            "2026-11-20 14:05",
            "Hal",
            "Went with competitor",
            "Umbrella Ltd",
            "555",
            "Jo Smith",
            "jo@umbrella.example",
        ],
        [
            "9002",
            "Umbrella upsell",
            "closedwon",
            "1,250.50",
            "2026-11-21",
            "Hal",
            "",
            "Umbrella Ltd",
            "555",
            "",
            "",
        ],
    ]
    path = write_csv(tmp_path / "hs.csv", header, rows, encoding="utf-16", delimiter="\t")
    assert import_path(runner, path)["created"] == 2
    lost, won = db.session.scalars(select(Opportunity).order_by(Opportunity.crm_id)).all()
    assert lost.crm_source == "hubspot"
    assert lost.is_lost
    assert lost.amount == Decimal("12500.00")
    assert lost.close_date == date(2026, 11, 20)
    assert lost.crm_loss_reason == "Went with competitor"
    assert lost.primary_contact.first_name == "Jo"
    assert lost.primary_contact.last_name == "Smith"
    assert won.is_won
    assert won.amount == Decimal("1250.50")
    assert lost.account.crm_id == "555"
    assert db.session.scalar(select(LossReasonMapping.raw_value)) == "Went with competitor"


def test_salesforce_api_names_export_uses_is_won_and_custom_fields(runner, tmp_path):
    header = [
        "Id",
        "AccountId",
        "Name",
        "StageName",
        "Amount",
        "CloseDate",
        "IsClosed",
        "IsWon",
        "OwnerId",
        "Loss_Reason__c",
        "Competitor__c",
        "Region__c",
    ]
    rows = [
        [
            "0065g00000XyZ1",
            "0015g000001",
            "Big deal",
            "Lost - Budget",
            "5000",
            "2026-09-30",
            "true",
            "false",
            "0055g0001",
            "Budget",
            "Globex",
            "EMEA",
        ]
    ]
    path = write_csv(tmp_path / "api.csv", header, rows)
    assert import_path(runner, path, "--format", "salesforce")["created"] == 1
    opp = db.session.scalar(select(Opportunity))
    assert opp.is_closed
    assert not opp.is_won
    assert opp.stage == "Lost - Budget"
    assert opp.raw["Region__c"] == "EMEA"
    assert opp.account.crm_id == "0015g000001"
    assert opp.competitor.name == "Globex"


def test_competitor_spellings_normalise_to_one_record(runner, tmp_path):
    db.session.add(Competitor(name="Northwind Analytics"))
    db.session.commit()
    rows = [r for r in sf_rows() if r[0] in ("006A1",)]
    rows.append(
        [
            "006A9",
            "Initech – Pro",
            "Initech",
            "001C",
            "Closed Lost",
            "900",
            "11/23/2026",
            "Eve",
            "",
            "NORTHWIND",
            "",
            "",
            "",
            "",
            "US",
        ]
    )
    import_path(runner, write_csv(tmp_path / "c.csv", SF_HEADER, rows))
    # 'Northwind' and 'NORTHWIND' are one spelling; 'Northwind Analytics' may be another company: a
    # person decides, on a suggested merge.
    assert count(Competitor) == 2
    assert {o.competitor.name for o in db.session.scalars(select(Opportunity))} == {"Northwind"}
    (suggestion,) = db.session.scalars(select(CompetitorMergeSuggestion)).all()
    assert (suggestion.competitor.name, suggestion.target.name) == ("Northwind", "Northwind Analytics")


def test_file_without_id_column_needs_the_natural_key_confirmed(runner, tmp_path):
    header = [h for h in SF_HEADER if h != "Opportunity ID"]
    rows = [r[1:] for r in sf_rows()[:2]]
    path = write_csv(tmp_path / "noid.csv", header, rows)
    refused = runner.invoke(args=["crm", "import", str(path), "--json"])
    assert refused.exit_code == 2
    assert "natural-key" in refused.output
    assert count(Opportunity) == 0
    assert import_path(runner, path, "--natural-key")["created"] == 2
    assert import_path(runner, path, "--natural-key")["unchanged"] == 2
    opp = db.session.scalar(select(Opportunity).where(Opportunity.name == "Acme – Plus"))
    assert opp.crm_id == "nk:Acme Corp|Acme – Plus|2026-10-01"


def test_error_file_round_trips(runner, tmp_path):
    path = write_csv(tmp_path / "sf.csv", SF_HEADER, sf_rows())
    first = import_path(runner, path)
    batch = db.session.get(ImportBatch, first["batch_id"])
    text = error_file(batch)
    assert text.startswith("\ufeff")  # Excel reads it as UTF-8
    table = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert table[0] == [*SF_HEADER, "error"]
    assert len(table) == 4
    assert "Amount 'twelve' is not a number" in table[1][-1]
    assert table[2][-1].startswith("line 7 (warning: the row was imported): Email 'not-an-email'")
    # The admin fixes the error and the warning and drops the duplicate, then uploads the file again.
    fixed = [row for row in table[1:] if "twice" not in row[-1]]
    fixed[0][5] = "$12.00"
    fixed[1][12] = "cy.ho@initech.example"
    fixed_path = tmp_path / "fixed.csv"
    with fixed_path.open("w", newline="") as handle:
        csv.writer(handle).writerows([table[0], *fixed])
    second = import_path(runner, fixed_path)
    assert (second["created"], second["updated"], second["failed"], second["warnings"]) == (1, 1, 0, 0)
    assert db.session.scalar(select(Opportunity.amount).where(Opportunity.crm_id == "006A3")) == Decimal(
        "12.00"
    )
    assert count(Opportunity) == 4


def test_cli_unreadable_file_exits_2_and_dry_run_changes_nothing(runner, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    result = runner.invoke(args=["crm", "import", str(empty), "--json"])
    assert result.exit_code == 2
    assert "empty" in json.loads(result.output)["error"]
    missing = runner.invoke(args=["crm", "import", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2
    path = write_csv(tmp_path / "sf.csv", SF_HEADER, sf_rows())
    dry = import_path(runner, path, "--dry-run")
    assert (dry["created"], dry["failed"], dry["warnings"], dry["dry_run"]) == (3, 2, 1, True)
    assert count(Opportunity) == 0
    assert count(Account) == 0
    assert db.session.get(ImportBatch, dry["batch_id"]).failed == 2
    assert count(ImportRowError) == 3


def test_xlsx_export_imports(runner, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(SF_HEADER)
    sheet.append(
        [
            "006X1",
            "Sheet deal",
            "Xl Co",
            "001X",
            "Closed Lost",
            4200.5,
            datetime(2026, 11, 2),
            "Ola",
            "Price",
            "",
            "",
            "",
            "",
            "",
            "US",
        ]
    )
    book.save(tmp_path / "export.xlsx")
    assert import_path(runner, tmp_path / "export.xlsx")["created"] == 1
    opp = db.session.scalar(select(Opportunity))
    assert opp.amount == Decimal("4200.50")
    assert opp.close_date == date(2026, 11, 2)
