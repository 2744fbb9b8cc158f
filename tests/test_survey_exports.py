"""Analysts read every version at once: responses page and exports across versions, contact columns."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook
from werkzeug.datastructures import MultiDict

from app.auth.models import Role
from app.extensions import db
from surveys.builder import editable_version, publish, update_texts
from surveys.responding import ResponseChannel, save_page, start_response
from tests.survey_helpers import NOW, invite, win_loss_survey


def _answer(version, contact, reason: str, *, text: str = ""):
    invitation, _ = invite(version, contact)
    response = start_response(version, channel=ResponseChannel.WEB, now=NOW, invitation=invitation)
    first, second = version.questions[0], version.questions[1]
    save_page(response, 1, MultiDict({first.html_id: reason, second.html_id: text}), now=NOW)
    if text:  # stored before answers were cleaned at input: the export must still cope
        response.answers_by_question()[second.id].text = text
    db.session.commit()
    return response


def _two_versions(make_contact, make_opportunity):
    survey = win_loss_survey()
    v1 = survey.published
    _answer(v1, make_contact(first_name="Old"), "price", text="Too dear\x01 really")
    v2 = editable_version(survey, now=NOW)
    update_texts(v2, title="Win/loss, take two", introduction="", thank_you="")
    publish(v2, now=NOW)
    db.session.commit()
    opportunity = make_opportunity(crm_id="006OPP1")
    contact = make_contact(first_name="New", account=opportunity.account)
    response = _answer(v2, contact, "timing")
    response.opportunity_id = opportunity.id
    db.session.commit()
    return survey, v1, v2


def test_exports_hold_every_version_with_a_version_column(login, make_user, make_contact, make_opportunity):
    client = login(make_user(Role.ANALYST))
    survey, v1, v2 = _two_versions(make_contact, make_opportunity)
    rows = list(
        csv.reader(io.StringIO(client.get(f"/surveys/{survey.id}/export.csv").get_data(as_text=True)))
    )
    header, body = rows[0], rows[1:]
    assert header[1] == "version"
    assert sorted(row[1] for row in body) == ["1", "2"]
    reason = header.index(next(h for h in header if "main reason" in h))
    assert {row[1]: row[reason] for row in body} == {"1": "Price", "2": "Timing"}  # one column for both
    assert "contact_email" not in header
    only_v1 = list(csv.reader(io.StringIO(client.get(f"/surveys/{survey.id}/export.csv?version=1").text)))
    assert [row[1] for row in only_v1[1:]] == ["1"]
    data = client.get(f"/surveys/{survey.id}/export.json").get_json()
    assert sorted(item["version"] for item in data["responses"]) == [1, 2]
    assert [v["number"] for v in data["versions"]] == [2, 1]


def test_contact_email_and_crm_ids_are_optional_columns(login, make_user, make_contact, make_opportunity):
    client = login(make_user(Role.ANALYST))
    survey, v1, v2 = _two_versions(make_contact, make_opportunity)
    text = client.get(f"/surveys/{survey.id}/export.csv?contact=1").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    new = next(row for row in rows if row["version"] == "2")
    assert new["contact_email"].endswith("@customer.example")
    assert new["contact_crm_id"].startswith("003T")
    assert new["opportunity_crm_id"] == "006OPP1"
    assert new["account_crm_id"]
    sheet = load_workbook(io.BytesIO(client.get(f"/surveys/{survey.id}/export.xlsx?contact=1").data))[
        "Responses"
    ]
    assert [cell.value for cell in sheet[1]][8:12] == [
        "contact_email",
        "contact_crm_id",
        "account_crm_id",
        "opportunity_crm_id",
    ]
    data = client.get(f"/surveys/{survey.id}/export.json?contact=1").get_json()
    assert {item["opportunity_crm_id"] for item in data["responses"]} == {"006OPP1", None}


def test_control_characters_are_stripped_from_answers_at_input(make_contact):
    version = win_loss_survey().published
    response = _answer(version, make_contact(), "price")
    second = version.questions[1]
    save_page(
        response,
        1,
        MultiDict({version.questions[0].html_id: "price", second.html_id: "a\x01b\x00c\nd"}),
        now=NOW,
    )
    assert response.answers_by_question()[second.id].text == "abc\nd"


def test_a_control_character_in_an_answer_does_not_break_the_xlsx_export(
    login, make_user, make_contact, make_opportunity
):
    client = login(make_user(Role.ANALYST))
    survey, v1, v2 = _two_versions(make_contact, make_opportunity)
    response = client.get(f"/surveys/{survey.id}/export.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data))["Responses"]
    values = [cell.value for row in sheet.iter_rows() for cell in row]
    assert "Too dear really" in values


def test_analysts_see_every_version_by_default_and_can_filter_one(
    login, make_user, make_contact, make_opportunity
):
    client = login(make_user(Role.ANALYST))
    survey, v1, v2 = _two_versions(make_contact, make_opportunity)
    html = client.get(f"/surveys/{survey.id}/responses").get_data(as_text=True)
    assert "All versions · 2 responses." in html
    assert "Version 1" in html
    assert "Version 2" in html
    html = client.get(f"/surveys/{survey.id}/responses?version=1").get_data(as_text=True)
    assert "Version 1 · 1 responses." in html
    assert client.get(f"/surveys/{survey.id}/responses?version=9").status_code == 404
