"""CRM import: real files, nasty exports, idempotence, the error file, concurrency, CLI."""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.crm.importing.formats import Mapping
from app.crm.importing.models import ImportBatch, ImportRowError
from app.crm.importing.records import ImportSettings
from app.crm.importing.service import error_file, run_import, save_mapping, start_batch
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


def _import_in_thread(app, path: Path, results: list, errors: list) -> None:
    try:
        with app.app_context():
            mapping = Mapping(
                format="salesforce",
                columns=dict(
                    zip(
                        ("crm_id", "name", "account_name", "account_crm_id", "stage", "amount", "close_date"),
                        SF_HEADER[:7],
                        strict=True,
                    )
                ),
            )
            batch = start_batch(filename=path.name, via="cli", actor_label="test", now=NOW)
            db.session.commit()
            run_import(
                batch, path, mapping, ImportSettings(), now=NOW, checkpoint=db.session.commit, batch_rows=50
            )
            db.session.commit()
            results.append((batch.created, batch.updated, batch.unchanged, batch.failed))
            db.session.remove()
    except Exception as error:  # surfaced by the assertion below
        errors.append(error)


def test_two_overlapping_imports_at_once_neither_duplicate_nor_lose_rows(app, tmp_path):
    def rows(start, stop):
        return [
            [
                f"006C{n:05d}",
                f"Deal {n}",
                f"Account {n % 40}",
                f"001C{n % 40:03d}",
                "Closed Lost",
                str(n),
                "2026-11-01",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
            ]
            for n in range(start, stop)
        ]

    first = write_csv(tmp_path / "a.csv", SF_HEADER, rows(0, 600))
    second = write_csv(tmp_path / "b.csv", SF_HEADER, rows(300, 900))
    results, errors = [], []
    threads = [
        threading.Thread(target=_import_in_thread, args=(app, p, results, errors)) for p in (first, second)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    db.session.expire_all()
    assert count(Opportunity) == 900
    assert count(Account) == 40
    assert sum(r[0] for r in results) == 900  # each row created exactly once
    assert sum(r[0] + r[2] for r in results) == 1200
    assert all(r[1] == 0 and r[3] == 0 for r in results)


def maven_pipeline_mapping() -> Mapping:
    """The generic mapping of the Maven CRM sample's sales_pipeline.csv."""
    return Mapping(
        format="generic",
        columns={
            "crm_id": "opportunity_id",
            "name": "{account} – {product}",
            "account_name": "account",
            "stage": "deal_stage",
            "amount": "close_value",
            "close_date": "close_date",
            "owner": "sales_agent",
            "product": "product",
        },
        lost_stages=["Lost"],
        won_stages=["Won"],
    )


@pytest.mark.shared_data
def test_maven_pipeline_imports_through_a_saved_generic_mapping(runner, shared_data):
    save_mapping("maven", maven_pipeline_mapping(), ImportSettings(), crm_source="maven")
    db.session.commit()
    path = shared_data / "maven_crm_sales_opportunities" / "sales_pipeline.csv"
    first = import_path(runner, path, "--mapping", "maven")
    # Prospecting and many Engaging deals have no account yet: reported, not imported.
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    with_account = [r for r in rows if r["account"]]
    assert first["created"] == len(with_account)
    assert first["failed"] == len(rows) - len(with_account)
    assert count(Account) == len({r["account"] for r in with_account})
    lost = db.session.scalar(select(func.count()).where(Opportunity.is_closed, ~Opportunity.is_won))
    assert lost == sum(1 for r in with_account if r["deal_stage"] == "Lost")
    sample = next(r for r in with_account if r["deal_stage"] == "Won")
    opp = db.session.scalar(select(Opportunity).where(Opportunity.crm_id == sample["opportunity_id"]))
    assert opp.amount == Decimal(sample["close_value"])
    assert opp.close_date.isoformat() == sample["close_date"]
    assert opp.crm_source == "generic"
    assert opp.owner == sample["sales_agent"]
    again = import_path(runner, path, "--mapping", "maven")
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, len(with_account))


@pytest.mark.shared_data
def test_salvirt_semicolon_file_imports_with_a_column_key(runner, shared_data):
    path = shared_data / "salvirt_b2b_sales" / "Salvirt_B2B_ML_dataset_HF.csv"
    with path.open() as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    header, body = rows[0], rows[1:]
    mapping = Mapping(
        format="generic",
        columns={
            "name": "{Product} {Deal_type} ({Seller})",
            "account_name": "Salvirt {Client} client",
            "stage": "Status",
            "owner": "Seller",
            "product": "Product",
            "account_segment": "Comp_size",
        },
        lost_stages=["Lost"],
        won_stages=["Won"],
        key="columns",
        key_columns=header,
    )
    save_mapping("salvirt", mapping, ImportSettings(), crm_source="salvirt")
    db.session.commit()
    result = import_path(runner, path, "--mapping", "salvirt")
    distinct = {tuple(r) for r in body}
    assert result["created"] == len(distinct)
    assert result["failed"] == len(body) - len(distinct)
    lost = db.session.scalar(select(func.count()).where(Opportunity.is_closed, ~Opportunity.is_won))
    assert lost == len({tuple(r) for r in body if r[-1] == "Lost"})
    client = header.index("Client")
    expected = {f"Salvirt {r[client]} client" for r in body}
    assert {a.name for a in db.session.scalars(select(Account))} == expected
    assert import_path(runner, path, "--mapping", "salvirt")["unchanged"] == len(distinct)


def test_a_row_inserted_by_another_import_after_the_lookup_is_not_counted_created_twice(app):
    from app.crm.importing.records import AccountIn, Record
    from app.crm.importing.upsert import Upserter

    now = datetime(2026, 5, 1, tzinfo=UTC)

    def record(n):
        return Record(
            crm_id=f"006R{n}",
            name=f"Deal {n}",
            stage="Closed Lost",
            is_closed=True,
            is_won=False,
            account=AccountIn(crm_id="001R1", name="Race Co"),
            raw={"Opportunity ID": f"006R{n}"},
            fingerprint=f"hash{n}",
        )

    ours = Upserter("salesforce", now=now, actor_label="a", batch_id=None)
    assert ours.stored_hashes(["006R1", "006R2"]) == {}  # nothing there yet
    theirs = Upserter("salesforce", now=now, actor_label="b", batch_id=None)
    assert [o.status for o in theirs.upsert([record(2)])] == ["created"]
    # Our batch still believes both are new: one is inserted, the other found and left unchanged.
    outcomes = ours.upsert([record(1), record(2)])
    assert [o.status for o in outcomes] == ["created", "unchanged"]
    db.session.flush()
    assert count(Opportunity) == 2
    stored = db.session.scalars(select(Opportunity).order_by(Opportunity.crm_id)).all()
    assert [o.crm_id for o in stored] == ["006R1", "006R2"]
    assert stored[0].raw == {"Opportunity ID": "006R1"}
