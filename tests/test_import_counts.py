"""Import counts that a person can trust (issue #18): the deals campaigns would pick up are distinct deals
of the file that are not enrolled yet, and a new empty column changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from app.auth.models import Role
from app.crm.importing.models import ImportBatch
from app.crm.models import Contact, Opportunity
from app.extensions import db
from campaigns.models import Enrollment
from tests.test_crm_import import import_path, write_csv
from tests.test_import_good_data import _active_campaign, _text

HEADER = ["Opportunity ID", "Opportunity Name", "Account Name", "Stage", "Email"]
ROWS = [
    ["1", "Lost one", "Acme", "Closed Lost", "a@acme.example"],
    ["2", "Lost two", "Bolt", "Closed Lost", "b@bolt.example"],
    ["3", "Lost three", "Cog", "Closed Lost", "c@cog.example"],
    ["4", "Won one", "Acme", "Closed Won", "d@acme.example"],
]


def test_two_campaigns_matching_the_same_deals_count_each_deal_once(runner, tmp_path, make_user, login):
    _active_campaign(name="All losses")
    _active_campaign(name="Also all losses")
    counts = import_path(runner, write_csv(tmp_path / "m.csv", HEADER, ROWS))

    batch = db.session.get(ImportBatch, counts["batch_id"])
    assert batch.settings["campaign_matched_deals"] == 3  # not 6: the campaigns overlap
    assert [m["count"] for m in batch.settings["campaign_matches"]] == [3, 3]
    page = _text(login(make_user(Role.ADMIN)).get(f"/imports/{batch.id}"))
    assert "Active campaigns will pick up 3 of these lost deals" in page
    assert "All losses</a>: 3 deals" in page
    assert "Also all losses</a>: 3 deals" in page


def test_a_reimport_does_not_count_deals_the_campaign_already_enrolled(runner, tmp_path):
    first, second = _active_campaign(name="All losses"), _active_campaign(name="Also all losses")
    path = write_csv(tmp_path / "m.csv", HEADER, ROWS)
    import_path(runner, path)
    lost_one = db.session.scalar(select(Opportunity).where(Opportunity.crm_id == "1"))
    lost_two = db.session.scalar(select(Opportunity).where(Opportunity.crm_id == "2"))
    contact = db.session.scalar(select(Contact).where(Contact.account_id == lost_one.account_id))
    enrolled_at = datetime(2026, 11, 2, tzinfo=UTC)
    db.session.add_all(
        [
            Enrollment(campaign=first, contact=contact, opportunity=lost_one, enrolled_at=enrolled_at),
            Enrollment(campaign=second, contact=contact, opportunity=lost_one, enrolled_at=enrolled_at),
            Enrollment(campaign=first, contact=contact, opportunity=lost_two, enrolled_at=enrolled_at),
        ]
    )
    db.session.commit()

    renamed = [[key, f"{name} (renamed)", *rest] for key, name, *rest in ROWS]  # updated, so matched again
    counts = import_path(runner, write_csv(tmp_path / "again.csv", HEADER, renamed))
    assert counts["updated"] == 4
    batch = db.session.get(ImportBatch, counts["batch_id"])
    by_campaign = {m["campaign"]: m["count"] for m in batch.settings["campaign_matches"]}
    assert by_campaign == {"All losses": 1, "Also all losses": 2}  # deal 3; deals 2 and 3
    assert batch.settings["campaign_matched_deals"] == 2  # deals 2 and 3, each once


def test_a_new_empty_column_reimports_as_unchanged(runner, tmp_path):
    first = import_path(runner, write_csv(tmp_path / "a.csv", HEADER, ROWS))
    assert first["created"] == 4

    wider = write_csv(tmp_path / "b.csv", [*HEADER, "Winback ID"], [[*row, ""] for row in ROWS])
    again = import_path(runner, wider)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 4)

    filled = write_csv(
        tmp_path / "c.csv", [*HEADER, "Winback ID"], [[*row, "WB-1" if row[0] == "1" else ""] for row in ROWS]
    )
    changed = import_path(runner, filled)
    assert (changed["updated"], changed["unchanged"]) == (1, 3)  # a filled cell is a change, kept raw
    assert db.session.scalar(select(Opportunity).where(Opportunity.crm_id == "1")).raw["Winback ID"] == "WB-1"


def test_matches_counted_batch_by_batch_agree_in_a_dry_run_and_in_the_import(tmp_path):
    from app.crm.importing.formats import mapping_for
    from app.crm.importing.records import ImportSettings
    from app.crm.importing.service import run_import

    _active_campaign(name="All losses")
    rows = [*ROWS, ["2", "Lost two", "Bolt", "Closed Lost", "b@bolt.example"]]  # deal 2 again, batch 3
    path = write_csv(tmp_path / "b.csv", HEADER, rows)
    mapping = mapping_for("salesforce", HEADER)
    settings = {}
    for dry_run in (True, False):
        batch = ImportBatch(filename="b.csv", via="cli", dry_run=dry_run)
        db.session.add(batch)
        db.session.commit()
        now = datetime(2026, 11, 20, tzinfo=UTC)
        run_import(
            batch, path, mapping, ImportSettings(), now=now, checkpoint=db.session.commit, batch_rows=2
        )
        db.session.commit()
        settings[dry_run] = batch.settings
        assert (batch.created, batch.failed) == (4, 1)  # the deal's second row fails: counted once
    for dry_run in (True, False):
        assert settings[dry_run]["campaign_matched_deals"] == 3
        assert [m["count"] for m in settings[dry_run]["campaign_matches"]] == [3]
