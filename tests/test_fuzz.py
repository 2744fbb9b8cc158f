"""Random and hostile values sent to every public and API route, and to every route as each role: no 5xx.

Hypothesis draws the route, path values, query strings and bodies (forms and JSON) from ordinary and
hostile values (NUL bytes, control characters, digits that are not ASCII, numbers beyond any column,
header injection, template syntax, deep JSON). Bounded examples keep it to seconds.
"""

from __future__ import annotations

import contextvars
import json

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator
from werkzeug.routing import IntegerConverter, Rule
from werkzeug.test import EnvironBuilder, run_wsgi_app

from app.api.service import create_token
from app.auth.guard import API_TOKEN, BUILTIN_PUBLIC_ENDPOINTS, access_of
from app.auth.models import Role
from app.db_types import utcnow
from app.extensions import db
from app.security import INT_FORM_FIELDS, INT_QUERY_ARGS
from tests.conftest import PASSWORD
from tests.survey_helpers import invite, published_survey, question_ids

HOSTILE = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x01\x02\x1b[31m",
    "²",
    "٣",
    "１０",
    "-1",
    "0",
    "1e1000000",
    "Infinity",
    "NaN",
    "99999999999999999999999999",
    "2147483648",
    "-9223372036854775809",
    "Acme\r\nBcc: victim@example.com",
    "{{ 7 * 7 }}",
    "{% for i in range(99999) %}x{% endfor %}",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "../../etc/passwd",
    "%00",
    "\ud7ff\ue000\U0010ffff",
    "é" * 300,
    "x" * 5000,
    "true",
    "false",
    "null",
    "[]",
    "{}",
]
values = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40))
params = st.dictionaries(
    st.one_of(st.sampled_from(["page", "q", "status", "after", "limit", "x"]), st.text(max_size=8)),
    values,
    max_size=4,
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    values,
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
OPPORTUNITY_KEYS = [
    "crm_source",
    "crm_id",
    "name",
    "stage",
    "amount",
    "currency",
    "close_date",
    "is_won",
    "is_closed",
    "owner",
    "competitor",
    "account",
    "contacts",
]
opportunity = st.fixed_dictionaries(
    {
        "crm_id": values,
        "name": values,
        "stage": st.sampled_from(["Closed Lost", "Closed Won"]),
        "account": st.fixed_dictionaries({"name": values}),
    },
    optional={
        key: json_values for key in OPPORTUNITY_KEYS if key not in {"crm_id", "name", "stage", "account"}
    },
)
api_bodies = st.one_of(st.lists(opportunity, max_size=3), json_values)
deep_json = st.integers(min_value=900, max_value=2500).map(lambda n: "[" * n + "]" * n)

FUZZ = settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _fuzzed_routes(app: Flask) -> list[Rule]:
    return sorted(
        (
            rule
            for rule in app.url_map.iter_rules()
            if rule.endpoint not in BUILTIN_PUBLIC_ENDPOINTS
            and access_of(app.view_functions[rule.endpoint]) in ("public", API_TOKEN)
        ),
        key=lambda rule: rule.rule,
    )


def _build(rule: Rule, path_values: dict) -> str:
    return rule.build(path_values, append_unknown=False)[1]


@pytest.fixture
def api_headers() -> dict:
    _, secret = create_token("fuzz", now=utcnow())
    db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_the_fuzzed_routes_cover_every_public_and_api_route(app):
    endpoints = {rule.endpoint for rule in _fuzzed_routes(app)}
    assert {
        "auth.login",
        "survey_public.respond",
        "messaging.unsubscribe",
        "api.push_opportunities",
    } <= endpoints


@FUZZ
@given(data=st.data())
def test_no_public_or_api_route_answers_5xx(app, client, api_headers, data):
    rule = data.draw(st.sampled_from(_fuzzed_routes(app)), label="route")
    method = data.draw(st.sampled_from(sorted(rule.methods - {"HEAD", "OPTIONS"})), label="method")
    path_values = {arg: data.draw(values.filter(bool), label=arg) for arg in rule.arguments}
    try:
        url = _build(rule, path_values)
    except Exception:  # a value the route's converter refuses (e.g. not an int) cannot be built
        url = _build(rule, {arg: "1" for arg in rule.arguments})
    kwargs = {"query_string": data.draw(params, label="query")}
    if access_of(app.view_functions[rule.endpoint]) == API_TOKEN:
        kwargs["headers"] = api_headers
    if method == "POST":
        body = data.draw(st.sampled_from(["form", "json", "raw-json", "deep-json"]), label="body")
        if body == "form":
            kwargs["data"] = data.draw(
                st.dictionaries(st.text(max_size=12), values, max_size=5), label="form"
            )
        elif body == "json":
            kwargs["json"] = data.draw(api_bodies, label="json")
        else:
            raw = data.draw(deep_json if body == "deep-json" else values, label="raw")
            kwargs["data"] = raw
            kwargs["headers"] = {**kwargs.get("headers", {}), "Content-Type": "application/json"}
    response = client.open(url, method=method, **kwargs)
    assert response.status_code < 500, (method, url, kwargs, response.get_data(as_text=True)[:300])


@pytest.fixture
def survey_link(make_contact):
    survey = published_survey()
    version = survey.published
    invitation, token = invite(version, make_contact(first_name="Fuzz"))
    return token, question_ids(version)


@FUZZ
@given(data=st.data())
def test_no_survey_answer_makes_the_survey_page_answer_5xx(client, survey_link, data):
    token, q = survey_link
    form = {"page": data.draw(st.one_of(st.sampled_from(["1", "2", "3", "4"]), values), label="page")}
    form["action"] = data.draw(st.sampled_from(["next", "back", "submit", "", "x"]), label="action")
    for question_id in data.draw(
        st.lists(st.sampled_from(q), max_size=len(q), unique=True), label="questions"
    ):
        form[f"q{question_id}"] = data.draw(
            st.one_of(
                values,
                st.lists(values, max_size=3),
                st.sampled_from(["price", "support", "__other__", "yes", "no", "3", "10", "2027-03-31"]),
            ),
            label=f"q{question_id}",
        )
        form[f"q{question_id}_other"] = data.draw(values, label="other")
    response = client.post(f"/s/{token}", data=form, query_string=data.draw(params, label="query"))
    assert response.status_code < 500, (form, response.get_data(as_text=True)[:300])
    assert client.get(f"/s/{token}").status_code < 500


@pytest.fixture
def signed_app(make_app):
    return make_app(TWILIO_AUTH_TOKEN="fuzz-auth-token")


@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_signed_twilio_webhooks_never_answer_5xx(signed_app, data):
    path = data.draw(st.sampled_from(["/twilio/sms/inbound", "/twilio/sms/status"]), label="path")
    fields = st.one_of(
        values.filter(lambda v: "\x00" not in v),
        st.sampled_from(["SM123", "+14155550100", "STOP", "delivered", "undelivered", "30007"]),
    )
    form = data.draw(
        st.fixed_dictionaries(
            {},
            optional={
                key: fields for key in ("MessageSid", "From", "To", "Body", "MessageStatus", "ErrorCode")
            },
        ),
        label="form",
    )
    url = signed_app.config["PUBLIC_BASE_URL"].rstrip("/") + path
    signature = RequestValidator("fuzz-auth-token").compute_signature(url, form)
    response = signed_app.test_client().post(path, data=form, headers={"X-Twilio-Signature": signature})
    assert response.status_code < 500, (path, form, response.get_data(as_text=True)[:300])
    assert response.status_code != 403  # the signature was right: the fields themselves were checked


def test_deep_json_is_refused_before_it_reaches_the_view(client, api_headers):
    response = client.post(
        "/api/v1/opportunities",
        data="[" * 3000 + "]" * 3000,
        headers={**api_headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert json.loads(response.data)["error"]["message"] == "The JSON is nested too deeply"


# --- every route, as every role ------------------------------------------------------------------

# Query and form names the pages read (numbers, filters, dates, actions), each given a hostile value.
FUZZED_NAMES = sorted(
    {
        *INT_QUERY_ARGS,
        *INT_FORM_FIELDS,
        *("q", "status", "sort", "from", "to", "table", "band", "weight", "channel", "owner", "region"),
        *("segment", "team", "show", "kind", "action", "format", "email", "name", "label", "next", "span"),
    }
)
# Ending the session or removing the signed-in user would leave the rest of the walk anonymous.
NOT_WALKED = {"auth.logout", "static"}
NO_SUCH_ID = "987654"


# Each request gives every name the same value, so that each number a page reads meets each of these:
# a digit int() refuses, one past PostgreSQL's INTEGER, and a long non-ASCII text no choice list offers.
WALK_VALUES = ["²", "2147483648", "é" * 300]


def _walk_values(value: str) -> dict[str, str]:
    return dict.fromkeys(FUZZED_NAMES, value)


def _walk_path(rule: Rule, offset: int) -> str:
    values = {}
    for n, arg in enumerate(sorted(rule.arguments)):
        converter = rule._converters[arg]
        if isinstance(converter, IntegerConverter):
            values[arg] = NO_SUCH_ID if arg == "user_id" else "1"
        else:
            values[arg] = HOSTILE[(offset + n) % len(HOSTILE)].replace("/", "") or "x"
    return _build(rule, values)


@pytest.fixture
def some_data(make_opportunity, make_contact):
    opportunity = make_opportunity()
    make_contact(account=opportunity.account)
    published_survey()
    db.session.commit()


def _walk_request(app: Flask, url: str, method: str, value: str, headers: dict) -> tuple[int, str]:
    """One request of the walk, through WSGI in a context of its own, as IsolatedClient sends it but without
    the test client's cookie jar: the jar decodes the whole URL (every name with its value, 300 é's each)
    twice more per request, which was 40 % of the walk. Each request carries the sign-in cookie."""
    builder = EnvironBuilder(
        path=url,
        method=method,
        query_string=_walk_values(value),
        data=_walk_values(value) if method != "GET" else None,
        headers=headers,
    )
    try:
        environ = builder.get_environ()
    finally:
        builder.close()
    body, status, _ = contextvars.Context().run(run_wsgi_app, app, environ, True)
    return int(status.split()[0]), b"".join(body).decode(errors="replace")


def test_no_route_answers_5xx_to_any_signed_in_role(app, make_user, some_data):
    """Every rule of the url map, GET and POST, with hostile path, query and form values, as each role."""
    rules = [
        rule
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule)
        if rule.endpoint not in NOT_WALKED
    ]
    requests = 0
    for role_number, role in enumerate(Role):
        user = make_user(role)
        client = app.test_client()
        assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
        cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
        signed_in = {"Cookie": f"{cookie.key}={cookie.value}"}
        for number, rule in enumerate(rules):
            url = _walk_path(rule, role_number * 7 + number)
            for method in sorted(rule.methods & {"GET", "POST", "PATCH", "DELETE", "PUT"}):
                for value in WALK_VALUES:
                    status, body = _walk_request(app, url, method, value, signed_in)
                    requests += 1
                    assert status < 500, (role, method, url, value, body[:300])
                    if status in (401, 403, 404, 405):
                        break  # not this role's route, or it names nothing: the rest would say the same
        assert client.get("/account/password").status_code == 200, role  # still signed in
    assert requests > 4 * 150
