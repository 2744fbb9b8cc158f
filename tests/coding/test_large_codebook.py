"""A codebook of 10,000 codes: the codebook page shows a page of them and searches them all; the coding
workbench lists a bounded choice and searches the rest on the server."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import insert, select

from app.auth.models import Role
from app.codebook.models import ReasonCode
from app.coding import service
from app.coding.code_list import WORKBENCH_CODE_LIMIT
from app.extensions import db
from tests.survey_helpers import NOW

AREAS, REASONS_PER_AREA = 100, 99  # 100 top-level codes with 99 children each: 10,000 codes


def _seed_codes() -> int:
    """Bulk-insert 10,000 codes (one statement per level, so seeding takes well under a second)."""
    db.session.execute(
        insert(ReasonCode), [{"code": f"area_{a:02d}", "label": f"Area {a:02d}"} for a in range(AREAS)]
    )
    parents = dict(
        db.session.execute(select(ReasonCode.code, ReasonCode.id).where(ReasonCode.parent_id.is_(None))).all()
    )
    db.session.execute(
        insert(ReasonCode),
        [
            {
                "code": f"area_{a:02d}.r{r:03d}",
                "label": f"Reason {a * 100 + r:05d}",
                "parent_id": parents[f"area_{a:02d}"],
            }
            for a in range(AREAS)
            for r in range(REASONS_PER_AREA)
        ],
    )
    db.session.commit()
    return AREAS * (REASONS_PER_AREA + 1)


def _code_rows(html: str) -> list[str]:
    return re.findall(r'<td><a href="/codebook/\d+"><code>([^<]+)</code>', html)


def _listed_codes(html: str) -> list[str]:
    """The codes of the workbench's "All codes" list (its checkboxes, not the suggestions)."""
    code_list = html.split("data-code-list", 1)[1].split("</fieldset>", 1)[0]
    return re.findall(r"<code>([^<]+)</code>", code_list)


@pytest.fixture
def ten_thousand_codes() -> int:
    return _seed_codes()


def test_codebook_page_shows_one_page_of_10000_codes_and_pages_on(ten_thousand_codes, make_user, login):
    client = login(make_user(Role.ANALYST))
    first = client.get("/codebook/").get_data(as_text=True)
    assert _code_rows(first)[:3] == ["area_00", "area_00.r000", "area_00.r001"]
    assert len(_code_rows(first)) == 100
    assert f"Page 1 of {ten_thousand_codes // 100} · {ten_thousand_codes} in all" in first
    assert first.count("<option") < 120  # the "Add a code" parents are the codes on screen, not all 10,000
    second = client.get("/codebook/?page=2").get_data(as_text=True)
    assert _code_rows(second)[0] == "area_01"  # 100 rows a page: area_00 and its 99 children, then area_01


def test_codebook_search_finds_a_code_by_label_and_by_key(ten_thousand_codes, make_user, login):
    client = login(make_user(Role.ADMIN))
    page = client.get("/codebook/")
    assert '<label>Code or label<input type="search" name="q"' in page.get_data(as_text=True)
    by_label = client.get("/codebook/?q=reason 04217").get_data(as_text=True)
    assert _code_rows(by_label) == ["area_42.r017"]
    by_key = client.get("/codebook/?q=AREA_73.R005").get_data(as_text=True)
    assert _code_rows(by_key) == ["area_73.r005"]
    assert "Reason 07305" in by_key
    nothing = client.get("/codebook/?q=100%25").get_data(as_text=True)  # a LIKE wildcard is a plain character
    assert _code_rows(nothing) == []
    assert "No code matches." in nothing


def test_a_parent_found_by_search_takes_a_new_code(ten_thousand_codes, make_user, login):
    client = login(make_user(Role.ADMIN))
    parent = db.session.scalar(select(ReasonCode).where(ReasonCode.code == "area_88.r088"))
    found = client.get("/codebook/?q=area_88.r088").get_data(as_text=True)
    assert f'<option value="{parent.id}">area_88.r088 — Reason 08888</option>' in found
    response = client.post(
        "/codebook/", data={"parent": str(parent.id), "part": "late", "label": "Late", "polarity": "loss"}
    )
    assert response.status_code == 302
    assert db.session.scalar(select(ReasonCode.label).where(ReasonCode.code == "area_88.r088.late")) == "Late"


def test_workbench_lists_a_bounded_choice_of_10000_codes_and_searches_them_all(respond, make_user, login):
    answer = respond("Their price was lower")
    analyst = make_user(Role.ANALYST)
    _seed_codes()
    deep = db.session.scalar(select(ReasonCode).where(ReasonCode.code == "area_55.r055"))
    client = login(analyst)
    page = client.get(f"/coding/answers/{answer.id}").get_data(as_text=True)
    listed = _listed_codes(page)
    assert len(listed) <= WORKBENCH_CODE_LIMIT
    assert "area_00" in listed  # the top-level codes come first
    assert "area_55.r055" not in listed
    assert len(page) < 200_000
    assert (
        '<form method="get" class="filters code-search" role="search" aria-label="Search all codes">' in page
    )
    found = client.get(f"/coding/answers/{answer.id}?codes=Reason 05555").get_data(as_text=True)
    assert _listed_codes(found) == ["area_55.r055"]
    # The analyst's own marks stay listed (and ticked) whatever the list shows.
    service.set_person_codes(answer, analyst, [service.CodeChoice(deep.id)], now=NOW)
    db.session.commit()
    again = client.get(f"/coding/answers/{answer.id}").get_data(as_text=True)
    assert "area_55.r055" in _listed_codes(again)
    assert re.search(rf'value="{deep.id}" checked', again)


def test_workbench_still_lists_every_code_of_a_small_codebook(respond, make_user, login):
    answer = respond("Their price was lower")
    client = login(make_user(Role.ANALYST))
    page = client.get(f"/coding/answers/{answer.id}").get_data(as_text=True)
    active = db.session.scalars(select(ReasonCode.code).where(ReasonCode.active)).all()
    assert set(_listed_codes(page)) | set(re.findall(r"<code>([^<]+)</code>", page)) >= set(active)
    assert "Search all codes" not in page
