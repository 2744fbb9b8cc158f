"""Each hostile value the probe found giving a signed-in user a 5xx is now a 400/422 that says why."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.api.service import create_token
from app.auth.models import Role
from app.codebook.models import ReasonCode
from app.codebook.service import ensure_default_codebook
from app.coding.models import ImportedAnswer
from app.db_types import utcnow
from app.extensions import db
from app.pipeline.models import Requalification, RequalificationSource
from app.validation import integer_problem, parse_id


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/coding/?survey=²", "survey must be written with the digits 0-9"),
        ("/coding/?question=99999999999999999999", "question is out of range"),
        ("/coding/?survey=2147483648", "survey is out of range"),
        ("/coding/?campaign=²", "campaign must be written with the digits 0-9"),
        ("/reports/funnel?campaign=²", "campaign must be written with the digits 0-9"),
        ("/reports/funnel.csv?campaign=%C2%B2", "campaign must be written with the digits 0-9"),
        ("/pipeline/review?min_score=2147483648", "min_score is out of range"),
        ("/pipeline/review?min_age_days=99999999999", "min_age_days is out of range"),
        ("/pipeline/review?campaign_id=-2147483649", "campaign_id is out of range"),
    ],
)
def test_an_integer_parameter_out_of_what_the_database_holds_is_a_400_with_a_message(
    login, make_user, url, message
):
    client = login(make_user(Role.ADMIN))
    response = client.get(url)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("url", "form", "message"),
    [
        (
            "/pipeline/review/bulk",
            {"action": "accept", "ids": "²"},
            "ids must be written with the digits 0-9",
        ),
        ("/pipeline/review/bulk", {"action": "accept", "ids": "2147483648"}, "ids is out of range"),
        ("/coding/agreement/1/resolve", {"code": "²"}, "code must be written with the digits 0-9"),
        ("/coding/answers/1", {"code": "99999999999"}, "code is out of range"),
    ],
)
def test_an_integer_form_field_out_of_range_is_a_400_with_a_message(login, make_user, url, form, message):
    client = login(make_user(Role.ADMIN))
    response = client.post(url, data=form)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_parse_id_takes_only_ascii_digits_a_database_can_hold():
    assert [parse_id(v) for v in ("7", " 42 ", "2147483647")] == [7, 42, 2147483647]
    assert [parse_id(v) for v in ("²", "٣", "１０", "2147483648", "-1", "1e3", "", None)] == [None] * 8
    assert integer_problem("abc") is None  # not a number at all: the page says what it expected
    assert integer_problem("-5") is None


@pytest.fixture
def patch_url(make_opportunity):
    opportunity = make_opportunity()
    requalification = Requalification(
        opportunity=opportunity, account=opportunity.account, source=RequalificationSource.SURVEY, score=10
    )
    db.session.add(requalification)
    db.session.commit()
    _, secret = create_token("crm", now=utcnow())
    db.session.commit()
    return f"/api/v1/requalifications/{requalification.id}", {"Authorization": f"Bearer {secret}"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"crm_opportunity_id": "006\\ud800"}', "lone surrogate"),
        ('{"crm_opportunity_id": "006\\u0000X"}', "NUL character"),
        ('{"crm_opportunity_id": "006", "x": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
    ],
)
def test_a_patch_with_unstorable_json_is_a_422(client, patch_url, body, message):
    url, headers = patch_url
    response = client.patch(url, data=body, headers={**headers, "Content-Type": "application/json"})
    assert response.status_code == 422
    assert message in json.loads(response.data)["error"]["message"]
    assert db.session.scalar(select(Requalification.crm_opportunity_id)) is None


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("a" * 131_073, "the file cannot be read from here (field larger than field limit (131072))"),
        ("Too\x00expensive", "a cell contains a NUL character"),
        ("x" * 100_001, "text is longer than 100000 characters"),
    ],
)
def test_coding_import_reports_a_huge_or_nul_cell_by_line(runner, tmp_path, cell, message):
    ensure_default_codebook()
    db.session.commit()
    path = tmp_path / "coded.csv"
    path.write_text(f"text,code\nToo expensive,price\n{cell},price\n", encoding="utf-8")
    result = runner.invoke(args=["coding", "import", str(path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["answers"] == 1  # the good row before it is kept
    assert [error["line"] for error in report["errors"]] == [3]
    assert message in report["errors"][0]["message"]
    assert db.session.scalars(select(ImportedAnswer.text)).all() == ["Too expensive"]
    assert db.session.scalar(select(ReasonCode.id).where(ReasonCode.code == "price")) is not None
