"""Bad input answers 4xx with a clear message, never 500."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from app.auth.models import Role
from app.extensions import db
from app.validation import strip_control_characters
from surveys.models import Answer
from surveys.responding import ResponseChannel, parse_answer, save_page, start_response
from tests.survey_helpers import NOW, invite, published_survey, question_ids


def _survey_link(make_contact):
    survey = published_survey()
    version = survey.published
    invitation, token = invite(version, make_contact(first_name="Ada"))
    return survey, version, invitation, token, question_ids(version)


def _page1(q):
    return {"page": "1", "action": "next", f"q{q[0]}": "price"}


@pytest.mark.parametrize("rating", ["²", "٣", "³", "1e0", "01234567890123", "-1", "6"])
def test_a_rating_that_is_not_an_ascii_digit_in_range_is_a_page_error(client, make_contact, rating):
    survey, version, invitation, token, q = _survey_link(make_contact)
    client.post(f"/s/{token}", data=_page1(q))
    response = client.post(
        f"/s/{token}", data={"page": "2", "action": "next", f"q{q[2]}": rating, f"q{q[4]}": "no"}
    )
    assert response.status_code == 422
    assert "Choose a number from 1 to 5." in response.get_data(as_text=True)


def test_nps_parsing_accepts_only_ascii_numbers(make_contact):
    survey, version, *_ = _survey_link(make_contact)
    nps = version.questions[3]
    for raw, expected in (("10", 10), ("0", 0), (" 7 ", 7)):
        value, error = parse_answer(nps, MultiDict({nps.html_id: raw}))
        assert (value.number, error) == (expected, None)
    for raw in ("²", "１０", "11"):
        assert parse_answer(nps, MultiDict({nps.html_id: raw}))[1] == "Choose a number from 0 to 10."


def test_nul_bytes_in_a_survey_answer_are_a_400(client, make_contact):
    survey, version, invitation, token, q = _survey_link(make_contact)
    response = client.post(f"/s/{token}", data={**_page1(q), f"q{q[1]}_other": "a\x00b"})
    assert response.status_code == 400
    assert db.session.scalar(select(Answer.id)) is None


def test_control_characters_are_stripped_from_survey_answers(make_contact):
    survey, version, invitation, token, q = _survey_link(make_contact)
    response = start_response(version, channel=ResponseChannel.WEB, now=NOW, invitation=invitation)
    save_page(response, 1, MultiDict({f"q{q[0]}": "price"}), now=NOW)
    save_page(response, 2, MultiDict({f"q{q[4]}": "no"}), now=NOW)
    save_page(
        response,
        4,
        MultiDict({f"q{q[6]}": "Acme\x01\x1b Corp", f"q{q[7]}": "line one\r\nline\ttwo\x7f\x0c"}),
        now=NOW,
    )
    db.session.commit()
    texts = db.session.scalars(select(Answer.text).where(Answer.text.is_not(None)).order_by(Answer.id)).all()
    assert texts == ["Acme Corp", "line one\r\nline\ttwo"]


def test_xlsx_export_survives_a_control_character_stored_earlier(login, make_user, make_contact):
    survey, version, invitation, token, q = _survey_link(make_contact)
    response = start_response(version, channel=ResponseChannel.WEB, now=NOW, invitation=invitation)
    save_page(response, 1, MultiDict({f"q{q[0]}": "price"}), now=NOW)
    save_page(response, 2, MultiDict({f"q{q[4]}": "no"}), now=NOW)
    save_page(response, 4, MultiDict({f"q{q[6]}": "Acme"}), now=NOW)
    db.session.flush()
    answer = db.session.scalar(select(Answer).where(Answer.text == "Acme"))
    answer.text = "Ac\x01me\x0b"  # as an older version stored it, before input was cleaned
    db.session.commit()
    client = login(make_user(Role.ANALYST))
    export = client.get(f"/surveys/{survey.id}/export.xlsx")
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(export.data))["Responses"]
    values = [cell.value for row in sheet.iter_rows(min_row=2) for cell in row]
    assert "Acme" in values


def test_strip_control_characters_keeps_tabs_line_breaks_and_unicode():
    assert strip_control_characters("a\x00\x01\x08\tb\nc\rd\x0b\x0c\x1f\x7fé ²") == "a\tb\nc\rdé ²"


@pytest.mark.parametrize(
    "path",
    [
        "/opportunities/99999999999999999999999",
        "/opportunities/2147483648",
        "/accounts/9223372036854775808",
        "/users/99999999999999999999",
        "/surveys/99999999999999999999",
        "/campaigns/99999999999999999999",
    ],
)
def test_huge_ids_in_urls_are_404(login, make_user, path):
    client = login(make_user(Role.ADMIN))
    assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "/opportunities?page=99999999999999999999",
        "/opportunities?page=2147483648",
        "/accounts?page=-99999999999999999999",
        "/opportunities?competitor=99999999999999999999",
        "/imports/?page=99999999999999999999",
        "/outbox?page=99999999999999999999",
    ],
)
def test_huge_numbers_in_query_strings_are_400(login, make_user, query):
    client = login(make_user(Role.ADMIN))
    assert client.get(query).status_code == 400


def test_huge_contact_number_in_a_campaign_preview_is_400(login, make_user):
    client = login(make_user(Role.ADMIN))
    assert client.get("/campaigns/1?contact=99999999999999999999").status_code == 400


def test_a_large_but_valid_page_number_is_an_empty_page(login, make_user):
    client = login(make_user(Role.ADMIN))
    assert client.get("/opportunities?page=2147483647").status_code == 200


@pytest.mark.parametrize("path", ["/opportunities?q=a%00b", "/accounts?q=%00", "/do-not-contact?q=x%00"])
def test_nul_bytes_in_the_admin_search_are_400(login, make_user, path):
    client = login(make_user(Role.ADMIN))
    response = client.get(path)
    assert response.status_code == 400


# --- the push API -------------------------------------------------------------------------------

API_ITEM = {
    "crm_source": "salesforce",
    "crm_id": "006B1",
    "name": "Bad input deal",
    "stage": "Closed Lost",
    "account": {"crm_id": "001B", "name": "Bad Co"},
}


@pytest.fixture
def api_headers():
    from app.api.service import create_token
    from app.db_types import utcnow

    _, secret = create_token("bad-input", now=utcnow())
    db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_is_won_as_a_string_is_refused_not_read_as_true(client, api_headers):
    from app.crm.models import Opportunity

    response = client.post(
        "/api/v1/opportunities", json=[{**API_ITEM, "is_won": "false"}], headers=api_headers
    )
    body = response.get_json()
    assert response.status_code == 200
    assert body["failed"] == 1
    assert body["items"][0]["error"]["field"] == "is_won"
    assert "JSON boolean" in body["items"][0]["error"]["message"]
    assert db.session.scalar(select(Opportunity.id)) is None
    ok = client.post("/api/v1/opportunities", json=[{**API_ITEM, "is_won": False}], headers=api_headers)
    assert ok.get_json()["created"] == 1
    assert db.session.scalar(select(Opportunity.is_won)) is False


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("currency", 42),
        ("currency", ["EUR"]),
        ("amount", {"value": 1}),
        ("amount", True),
        ("close_date", 20261120),
        ("name", {"x": 1}),
        ("name", True),
        ("crm_id", []),
        ("is_closed", 1),
        ("is_closed", "yes"),
        ("crm_source", {"a": 1}),
        ("contacts", "Al Bo"),
        ("contacts", [{"email": 7}]),
        ("contacts", [{"email": ["a@b.example"]}]),
        ("contacts", [{"phone": 4155550100}]),
        ("contacts", [{"first_name": {"x": 1}}]),
        ("account", "Bad Co"),
        ("account", {"name": 5.5, "country": ["GB"]}),
    ],
)
def test_api_fields_of_the_wrong_type_fail_their_item_with_a_clear_error(client, api_headers, field, value):
    response = client.post("/api/v1/opportunities", json=[{**API_ITEM, field: value}], headers=api_headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    (item,) = response.get_json()["items"]
    assert item["status"] == "failed"
    assert item["error"]["message"]


@pytest.mark.parametrize("body", ["[" * 2000 + "]" * 2000, '{"a":' * 2000 + "1" + "}" * 2000, "[1,", "\x00"])
def test_deep_or_broken_json_is_a_json_400(client, api_headers, body):
    response = client.post(
        "/api/v1/opportunities",
        data=body,
        headers={**api_headers, "Content-Type": "application/json"},
    )
    assert 400 <= response.status_code < 500
    assert response.get_json()["error"]["message"]


def test_api_cursor_out_of_range_is_a_json_400(client, api_headers):
    response = client.get("/api/v1/opportunities?after=99999999999999999999", headers=api_headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "http_400"


@pytest.mark.parametrize("body", ["-1", "[1, 2]", "[" * 3000 + "]" * 3000, '{"email": ["a"]}'])
def test_a_json_body_sent_to_a_form_page_is_415(client, body):
    response = client.post("/login", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 415


def test_signed_twilio_webhooks_with_oversized_fields_are_400(make_app):
    from twilio.request_validator import RequestValidator

    signed = make_app(TWILIO_AUTH_TOKEN="token-for-tests")
    form = {"MessageSid": "SM1", "From": "x" * 5000, "Body": "STOP"}
    url = signed.config["PUBLIC_BASE_URL"] + "/twilio/sms/inbound"
    signature = RequestValidator("token-for-tests").compute_signature(url, form)
    response = signed.test_client().post(
        "/twilio/sms/inbound", data=form, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 400
