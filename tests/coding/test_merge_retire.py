"""Merge and retire ask first, with counts of what they change (and those counts are what changes); retired
codes leave every picker; both are undone within 24 hours through the audit trail."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.models import Role
from app.codebook import changes
from app.codebook.models import ReasonCode
from app.coding.importing import import_codings
from app.coding.models import Coding, CodingRule, CodingStatus, OpportunityReason
from app.coding.service import CodeChoice, add_rule, set_person_codes
from app.db_types import utcnow
from app.errors import Conflict
from app.extensions import db
from tests.survey_helpers import NOW


def _code(code: str) -> ReasonCode:
    return db.session.scalar(select(ReasonCode).where(ReasonCode.code == code))


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _answer_codes() -> dict[tuple, set[str]]:
    db.session.expire_all()
    sets: dict[tuple, set[str]] = defaultdict(set)
    for answer_id, imported_id, key, code in db.session.execute(
        select(Coding.answer_id, Coding.imported_answer_id, Coding.coder_key, ReasonCode.code).join(
            ReasonCode
        )
    ):
        sets[(answer_id, imported_id)].add(f"{key}={code}")
    return dict(sets)


def _rules(code: str) -> set[str]:
    return set(db.session.scalars(select(CodingRule.phrase).join(ReasonCode).where(ReasonCode.code == code)))


def _deal_reasons() -> dict[int, set[str]]:
    db.session.expire_all()
    sets: dict[int, set[str]] = defaultdict(set)
    for opportunity_id, code in db.session.execute(
        select(OpportunityReason.opportunity_id, ReasonCode.code).join(ReasonCode)
    ):
        sets[opportunity_id].add(code)
    return dict(sets)


@pytest.fixture
def coded(respond, make_user, make_opportunity):
    """Answers, rules, an imported answer and deals that use price.discount (to merge into price.too_high)."""
    ana = make_user(Role.ANALYST, name="Ana")
    loser, survivor = _code("price.discount"), _code("price.too_high")
    deals = [make_opportunity() for _ in range(3)]
    answers = [respond(f"Answer {n}", main="timing", opportunity=deal) for n, deal in enumerate(deals)]
    set_person_codes(answers[0], ana, [CodeChoice(loser.id)], now=NOW)
    set_person_codes(answers[1], ana, [CodeChoice(loser.id), CodeChoice(survivor.id)], now=NOW)  # both
    set_person_codes(answers[2], ana, [CodeChoice(survivor.id)], now=NOW)
    add_rule(loser, "discount")
    add_rule(loser, "cheaper")
    add_rule(survivor, "cheaper")  # already the survivor's: dropped, not moved
    import io

    import_codings(io.StringIO("id,text,code\n7,They bundled more,price.discount\n"), now=NOW)
    db.session.commit()
    return ana, loser, survivor, answers


def test_the_merge_asks_first_and_its_counts_equal_what_changes(coded, make_user, login):
    ana, loser, survivor, answers = coded
    client = login(make_user(Role.ADMIN))
    before_codes, before_deals = _answer_codes(), _deal_reasons()
    before_rules = _rules(survivor.code)
    page = client.post(f"/codebook/{loser.id}/merge", data={"merge-into": str(survivor.id)})
    text = _text(page.get_data(as_text=True))
    assert "Merge price.discount into price.too_high ?" in text
    assert _code("price.discount").active  # nothing happened yet
    preview = {line.label: line.count for line in changes.merge_preview(loser, survivor)}
    assert preview["answers recoded"] == 3  # two survey answers and the imported one
    assert preview["keyword rules moved"] == 1
    assert preview["deals whose reasons change in the loss-reason reports"] == 2
    for label, count in preview.items():
        assert f"{label} {count}" in text
    client.post(f"/codebook/{loser.id}/merge", data={"merge-into": str(survivor.id), "confirm": "1"})
    after_codes, after_deals = _answer_codes(), _deal_reasons()
    recoded = [key for key in before_codes if before_codes[key] != after_codes.get(key)]
    assert len(recoded) == preview["answers recoded"]
    assert len(_rules(survivor.code) - before_rules) == preview["keyword rules moved"]
    changed_deals = [d for d in before_deals if before_deals[d] != after_deals.get(d)]
    assert len(changed_deals) == preview["deals whose reasons change in the loss-reason reports"]
    assert preview["CRM loss reasons remapped"] == 0
    assert not _code("price.discount").active


def test_retire_asks_first_and_a_retired_code_leaves_every_picker(coded, make_user, login, respond):
    ana, loser, survivor, answers = coded
    client = login(make_user(Role.ADMIN))
    text = _text(client.post(f"/codebook/{loser.id}/retire").get_data(as_text=True))
    assert "Retire price.discount ?" in text
    assert "keyword rules that stop suggesting it 2" in text
    assert _code("price.discount").active
    client.post(f"/codebook/{loser.id}/retire", data={"confirm": "1"})
    assert not _code("price.discount").active
    option = f'value="{loser.id}"'
    other = _code("price.pricing_model")
    pages = {
        "codebook parent picker": client.get("/codebook/"),
        "move and merge pickers": client.get(f"/codebook/{other.id}"),
        "workbench": client.get(f"/coding/answers/{respond('Fresh answer').id}"),
        "bulk apply": client.get("/coding/bulk"),
        "rules": client.get("/coding/rules"),
    }
    for name, response in pages.items():
        assert option not in response.get_data(as_text=True), name


def test_a_merge_is_undone_within_24_hours_through_the_audit_trail(coded, make_user, login):
    ana, loser, survivor, answers = coded
    admin = make_user(Role.ADMIN)
    before = (_answer_codes(), _deal_reasons(), _rules(loser.code), _rules(survivor.code))
    now = utcnow()
    event = changes.merge_recorded(loser, survivor, actor=admin, now=now)
    db.session.commit()
    assert event.action == "codebook.merged"
    client = login(admin)
    page = client.get(f"/codebook/{loser.id}").get_data(as_text=True)
    assert "Merged into <code>price.too_high</code>" in page
    with pytest.raises(Conflict):
        changes.undo(event, actor=admin, now=now + timedelta(hours=25))
    db.session.rollback()
    changes.undo(db.session.get(AuditEvent, event.id), actor=admin, now=now + timedelta(hours=23))
    db.session.commit()
    assert (_answer_codes(), _deal_reasons(), _rules(loser.code), _rules(survivor.code)) == before
    assert _code("price.discount").active
    undone = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "codebook.merged_undone"))
    assert undone.details == {"event": event.id}
    with pytest.raises(Conflict):
        changes.undo(db.session.get(AuditEvent, event.id), actor=admin, now=now + timedelta(hours=23))


def test_a_retirement_is_undone_from_the_codes_page(coded, make_user, login):
    ana, loser, survivor, answers = coded
    client = login(make_user(Role.ADMIN))
    client.post(f"/codebook/{loser.id}/retire", data={"confirm": "1"})
    assert not _code("price.discount").active
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "codebook.retired"))
    page = client.get(f"/codebook/{loser.id}").get_data(as_text=True)
    assert f"/codebook/{loser.id}/undo/{event.id}" in page
    client.post(f"/codebook/{loser.id}/undo/{event.id}", follow_redirects=True)
    assert _code("price.discount").active
    assert db.session.get(AuditEvent, event.id).details["undone_at"]
    assert f"/undo/{event.id}" not in client.get(f"/codebook/{loser.id}").get_data(as_text=True)
    statuses = {c.status for c in db.session.scalars(select(Coding).where(Coding.reason_code_id == loser.id))}
    assert statuses == {CodingStatus.CONFIRMED}
