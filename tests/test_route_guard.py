"""Every route states who may use it, and the app enforces it."""

from __future__ import annotations

import pytest
from flask import Flask
from werkzeug.routing import IntegerConverter, Rule

from app.auth.guard import ACCESS_ATTR, API_TOKEN, BUILTIN_PUBLIC_ENDPOINTS, access_of
from app.auth.models import Role

# Adding a public route means adding it here, on purpose.
EXPECTED_PUBLIC = {
    "api.openapi",
    "auth.login",
    # The signed, single-use link emailed by an admin is the credential.
    "auth.reset_password",
    "dashboard.index",
    "health.healthz",
    "survey_public.respond",
    "survey_public.thanks",
    # Customers unsubscribe without an account (the signed token is the credential); Twilio's
    # webhooks are checked by X-Twilio-Signature instead of a session.
    "messaging.unsubscribe",
    "messaging.twilio_sms_inbound",
    "messaging.twilio_sms_status",
    "calls.twilio_voice_bridge",
    "calls.twilio_voice_announce",
    "calls.twilio_voice_status",
    # Browser calling's TwiML App, answering-machine verdicts, the recording notice and recordings
    # (each checked by Twilio's signature).
    "calls.twilio_voice_client",
    "calls.twilio_voice_announced",
    "calls.twilio_voice_amd",
    "calls.twilio_voice_recording",
    # The organisation's logo and brand colour, which survey pages load.
    "organisation.logo",
    "organisation.brand_css",
}


def _routes(app: Flask) -> list[Rule]:
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint not in BUILTIN_PUBLIC_ENDPOINTS]


def _url_for_rule(rule: Rule) -> str:
    values = {
        arg: 1 if isinstance(rule._converters[arg], IntegerConverter) else "x" for arg in rule.arguments
    }
    return rule.build(values, append_unknown=False)[1]


def _method(rule: Rule) -> str:
    return "GET" if "GET" in rule.methods else sorted(rule.methods - {"HEAD", "OPTIONS"})[0]


def test_every_route_declares_who_may_use_it(app: Flask):
    undeclared = [
        rule.endpoint for rule in _routes(app) if access_of(app.view_functions[rule.endpoint]) is None
    ]
    assert undeclared == []


def test_public_routes_are_exactly_the_expected_ones(app: Flask):
    public = {r.endpoint for r in _routes(app) if access_of(app.view_functions[r.endpoint]) == "public"}
    assert public == EXPECTED_PUBLIC


def test_every_non_public_route_refuses_an_anonymous_visitor(app: Flask, client):
    checked = 0
    for rule in _routes(app):
        if access_of(app.view_functions[rule.endpoint]) == "public":
            continue
        response = client.open(_url_for_rule(rule), method=_method(rule))
        if response.status_code == 302:
            assert "/login" in response.headers["Location"], rule.endpoint
        else:
            assert response.status_code == 401, rule.endpoint
        checked += 1
    assert checked >= 6


def test_every_role_restricted_route_refuses_the_other_roles(app: Flask, make_user, login):
    users = {role: make_user(role) for role in Role}
    refused = 0
    for role, user in users.items():
        client = app.test_client()
        client.post("/login", data={"email": user.email, "password": "correct horse battery"})
        for rule in _routes(app):
            allowed = access_of(app.view_functions[rule.endpoint])
            if not isinstance(allowed, frozenset) or role in allowed:
                continue
            response = client.open(_url_for_rule(rule), method=_method(rule))
            assert response.status_code == 403, (rule.endpoint, role)
            refused += 1
    assert refused >= 3  # /users at least refuses three roles


def test_a_route_without_declaration_is_refused(app: Flask, client):
    """Deny by default: a view someone forgot to guard answers 403, not its content."""
    test_app = Flask(__name__)
    from app.auth.guard import refuse_undeclared_routes

    test_app.before_request(refuse_undeclared_routes)

    @test_app.get("/forgotten")
    def forgotten():
        return "secret"

    response = test_app.test_client().get("/forgotten")
    assert response.status_code == 403
    assert b"secret" not in response.data
    assert not hasattr(forgotten, ACCESS_ATTR)


@pytest.mark.parametrize("role", list(Role))
def test_each_role_sees_its_dashboard(role: Role, make_user, login):
    client = login(make_user(role))
    response = client.get("/dashboard")
    assert response.status_code == 200
    assert "deals lost" in response.get_data(as_text=True)


def _token_routes(app: Flask) -> list[Rule]:
    return [r for r in _routes(app) if access_of(app.view_functions[r.endpoint]) == API_TOKEN]


def test_token_routes_refuse_missing_wrong_and_revoked_tokens_even_to_a_signed_in_admin(
    app: Flask, make_user, login
):
    from app.api.service import create_token, revoke_token
    from app.db_types import utcnow
    from app.extensions import db

    token, secret = create_token("guard-test", now=utcnow())
    db.session.commit()
    client = login(make_user(Role.ADMIN))  # a browser session is not an API credential
    routes = _token_routes(app)
    assert len(routes) >= 2
    for rule in routes:
        method = _method(rule)
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {secret}"}):
            response = client.open(_url_for_rule(rule), method=method, headers=headers)
            assert response.status_code == 401, (rule.endpoint, headers)
            assert response.get_json()["error"]["code"] == "unauthorized"
        ok = client.open(
            _url_for_rule(rule), method=method, json=[], headers={"Authorization": f"Bearer {secret}"}
        )
        # Past the token check: a route about one record answers 404 for a record that does not exist.
        assert ok.status_code == (404 if rule.arguments else 200), rule.endpoint
    revoke_token(token, now=utcnow())
    db.session.commit()
    for rule in routes:
        response = client.open(
            _url_for_rule(rule), method=_method(rule), headers={"Authorization": f"Bearer {secret}"}
        )
        assert response.status_code == 401, rule.endpoint
