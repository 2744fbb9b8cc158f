"""The codebook editor: tree, create, edit, move, merge, retire, CSV in and out, and the shipped codebook."""

from __future__ import annotations

import csv
import re

import pytest
from sqlalchemy import func, select

from app.auth.models import Role
from app.codebook import service
from app.codebook.models import Polarity, ReasonCode
from app.coding.models import Coding, CodingStatus
from app.crm.models import LossReasonMapping
from app.errors import Conflict, ValidationError
from app.extensions import db
from surveys.models import Option


def _code(code: str) -> ReasonCode:
    return db.session.scalar(select(ReasonCode).where(ReasonCode.code == code))


def test_shipped_codebook_covers_the_win_loss_themes_with_sub_codes():
    added = service.ensure_default_codebook()
    assert added == len(service.DEFAULT_CODEBOOK)
    assert service.ensure_default_codebook() == 0
    tops = {c.code for c in db.session.scalars(select(ReasonCode).where(ReasonCode.parent_id.is_(None)))}
    for theme in (
        "price",
        "product",
        "implementation",
        "relationship",
        "sales",
        "support",
        "timing",
        "competitor",
        "politics",
    ):
        assert theme in tops
        assert db.session.scalar(select(func.count()).where(ReasonCode.code.startswith(theme + "."))) >= 2
    assert _code("timing.no_decision").label == "No decision / status quo"
    assert _code("product.usability").polarity is Polarity.BOTH
    # Every code the ready-made survey maps to still exists.
    for code in ("price.too_high", "product.missing_feature", "relationship.incumbent", "budget", "support"):
        assert _code(code) is not None


def test_tree_lists_parents_before_children_with_depth():
    service.ensure_default_codebook()
    nodes = service.codebook_tree()
    position = {n.code.code: i for i, n in enumerate(nodes)}
    assert position["price"] < position["price.too_high"]
    assert {n.code.code: n.depth for n in nodes}["price.too_high"] == 1


def test_create_edit_move_and_retire_a_code():
    service.ensure_default_codebook()
    code = service.create_code("onboarding_time", "Onboarding time", parent=_code("implementation"))
    assert code.code == "implementation.onboarding_time"
    with pytest.raises(Conflict):
        service.create_code("onboarding_time", "Again", parent=_code("implementation"))
    with pytest.raises(ValidationError):
        service.create_code("Bad Code", "Label")
    service.edit_code(
        code, label="Time to onboard", definition="Weeks", example="took months", polarity="both"
    )
    assert (code.label, code.polarity) == ("Time to onboard", Polarity.BOTH)
    child = service.create_code("training", "Training", parent=code)
    service.move_code(code, _code("support"))
    assert code.code == "support.onboarding_time"
    assert child.code == "support.onboarding_time.training"
    with pytest.raises(ValidationError):
        service.move_code(code, child)
    service.retire_code(code)
    assert not code.active
    assert code.id in {n.code.id for n in service.codebook_tree()}
    assert code.id not in {n.code.id for n in service.codebook_tree(include_retired=False)}


def test_merge_moves_codings_and_mappings_to_the_survivor(respond, make_opportunity):
    from app.coding.service import opportunity_reasons

    opportunity = make_opportunity()
    answer = respond("Too pricey", main="price", opportunity=opportunity)
    loser, survivor = _code("price.too_high"), _code("price")
    mapping = LossReasonMapping(raw_value="Price", reason_code_id=loser.id)
    db.session.add(mapping)
    # The survivor already codes this answer from a person: the loser's would be a duplicate.
    db.session.add(
        Coding(
            answer_id=answer.id,
            reason_code_id=loser.id,
            source="person",
            coder_key="user:99",
            status=CodingStatus.CONFIRMED,
        )
    )
    db.session.add(
        Coding(
            answer_id=answer.id,
            reason_code_id=survivor.id,
            source="person",
            coder_key="user:99",
            status=CodingStatus.CONFIRMED,
        )
    )
    db.session.commit()
    service.merge_codes(loser, survivor)
    db.session.commit()
    assert db.session.scalar(select(func.count()).where(Coding.reason_code_id == loser.id)) == 0
    assert db.session.get(LossReasonMapping, mapping.id).reason_code_id == survivor.id
    assert db.session.scalar(select(func.count()).where(Option.reason_code_id == loser.id)) == 0
    option_coding = db.session.scalar(
        select(Coding).where(Coding.coder_key == "option", Coding.reason_code_id == survivor.id)
    )
    assert option_coding is not None
    assert not db.session.get(ReasonCode, loser.id).active
    reasons = opportunity_reasons(opportunity.id)
    assert [(r.reason_code.code, r.is_primary) for r in reasons] == [("price", True)]
    with pytest.raises(ValidationError):
        service.merge_codes(survivor, _code("price.pricing_model"))


def test_codebook_csv_round_trip_through_the_cli(runner, tmp_path):
    service.ensure_default_codebook()
    db.session.commit()
    path = tmp_path / "codebook.csv"
    result = runner.invoke(args=["codebook", "export", str(path)])
    assert result.exit_code == 0, result.output
    assert path.read_text(encoding="utf-8").startswith("\ufeffcode,")  # Excel reads it as UTF-8
    with path.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["code", "label", "definition", "example", "polarity", "active"]
    too_high = next(row for row in rows if row["code"] == "price.too_high")
    assert {"polarity": "loss", "active": "1", "label": "Price too high"}.items() <= too_high.items()
    too_high["label"] = "Much too expensive"
    rows.append(
        {
            "code": "price.too_high.per_seat",
            "label": "Per seat",
            "definition": "",
            "example": "",
            "polarity": "loss",
            "active": "0",
        }
    )
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = runner.invoke(args=["codebook", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 added, 1 updated" in result.output
    assert _code("price.too_high").label == "Much too expensive"
    new = _code("price.too_high.per_seat")
    assert new.parent.code == "price.too_high"
    assert not new.active


def test_codebook_import_with_a_bad_row_applies_nothing(runner, tmp_path):
    service.ensure_default_codebook()
    db.session.commit()
    path = tmp_path / "bad.csv"
    path.write_text(
        "code,label,definition,example,polarity,active\n"
        "price,Renamed price,,,loss,1\n"
        "nothing.here,Orphan,,,loss,1\n"
        "timing.x,X,,,sideways,1\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["codebook", "import", str(path)])
    assert result.exit_code == 1
    assert "line 4" in result.output
    assert "polarity" in result.output
    assert "line 3" in result.output
    assert "parent nothing" in result.output
    assert _code("price").label == "Price and commercial terms"
    assert runner.invoke(args=["codebook", "import", str(tmp_path / "missing.csv")]).exit_code == 2


def test_editor_pages_for_analysts_with_csrf(make_app, make_user, login):
    service.ensure_default_codebook()
    db.session.commit()
    analyst = make_user(Role.ANALYST)
    client = make_app(WTF_CSRF_ENABLED=True).test_client()
    token = _token(client.get("/login"))
    client.post(
        "/login", data={"email": analyst.email, "password": "correct horse battery", "csrf_token": token}
    )
    page = client.get("/codebook/")
    assert page.status_code == 200
    assert "price.too_high" in page.get_data(as_text=True)
    refused = client.post("/codebook/", data={"part": "x", "label": "X", "polarity": "loss"})
    assert refused.status_code in (200, 400)
    assert _code("x") is None
    token = _token(page)
    parent = _code("support")
    response = client.post(
        "/codebook/",
        data={
            "csrf_token": token,
            "parent": str(parent.id),
            "part": "sla",
            "label": "SLA",
            "polarity": "loss",
        },
    )
    assert response.status_code == 302
    assert _code("support.sla").label == "SLA"
    bad = client.post(
        "/codebook/", data={"csrf_token": token, "part": "Bad Part", "label": "B", "polarity": "loss"}
    )
    assert "lower-case letters" in bad.get_data(as_text=True)


def test_editor_edit_retire_merge_and_export_pages(make_user, login):
    service.ensure_default_codebook()
    db.session.commit()
    client = login(make_user(Role.ADMIN))
    code = _code("support.onboarding")
    assert "Merge into" in client.get(f"/codebook/{code.id}").get_data(as_text=True)
    client.post(
        f"/codebook/{code.id}",
        data={"label": "Onboarding", "definition": "", "example": "", "polarity": "win"},
    )
    assert db.session.get(ReasonCode, code.id).polarity is Polarity.WIN
    client.post(f"/codebook/{code.id}/retire")  # asks first
    assert db.session.get(ReasonCode, code.id).active
    client.post(f"/codebook/{code.id}/retire", data={"confirm": "1"})
    assert not db.session.get(ReasonCode, code.id).active
    client.post(f"/codebook/{code.id}/move", data={"move-parent": str(_code("sales").id)})
    assert db.session.get(ReasonCode, code.id).code == "sales.onboarding"
    client.post(
        f"/codebook/{code.id}/merge", data={"merge-into": str(_code("support.quality").id), "confirm": "1"}
    )
    export = client.get("/codebook/export.csv").get_data(as_text=True)
    assert export.startswith("\ufeffcode,label,definition,example,polarity,active")


def _token(response) -> str:
    return re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', response.get_data(as_text=True)
    ).group(1)


def test_callers_cannot_open_the_codebook(make_user, login):
    client = login(make_user(Role.CALLER))
    assert client.get("/codebook/").status_code == 403


def test_a_merge_moves_every_column_that_points_at_a_reason_code(app):
    """The packages register the columns a merge moves; none of the schema's may be forgotten."""
    with app.app_context():
        registered = [(column.class_.__table__.name, column.key) for column in service.code_references()]
    in_schema = {
        (table.name, fk.parent.name)
        for table in db.metadata.sorted_tables
        for fk in table.foreign_keys
        if fk.column.table.name == "reason_codes" and table.name != "reason_codes"
    }
    assert sorted(registered) == sorted(in_schema)
