"""CRM imports under pressure and on real exports: two imports at once, a row inserted by another import
mid-run, and the public sample files (Maven pipeline, SalVirt)."""

from __future__ import annotations

import csv
import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.crm.importing.formats import Mapping
from app.crm.importing.records import ImportSettings
from app.crm.importing.service import run_import, save_mapping, start_batch
from app.crm.models import Account, Opportunity
from app.extensions import db
from tests.test_crm_import import NOW, SF_HEADER, count, import_path, write_csv


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
