"""The CRM connection page: a login stored with its secrets encrypted (Fernet, CRM_SECRETS_KEY) and never
shown again, the environment's settings first, "Test connection" through the real clients (HTTP faked),
and a failed connection told to admins on the page and by a digest line."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import responses
from cryptography.fernet import Fernet
from sqlalchemy import select

from app.auth.models import Role
from app.crm.sync.credentials import effective_config
from app.crm.sync.models import ConnectionStatus, CrmConnection, CrmCredential
from app.extensions import db
from app.messaging.models import OutboundMessage
from app.pipeline.digest import queue_digests
from tests.crm_fake_hubspot import HubSpotPortal
from tests.crm_fakes import SalesforceOrg

KEY = Fernet.generate_key().decode()
URL = "/imports/crm-connection"
SF_LOGIN = {
    "method": "salesforce:password",
    "username": "sync@acme.example",
    "password": "hunter2-secret",
    "security_token": "TOKEN-abc",
}


@pytest.fixture
def admin(client, login, make_user, app, monkeypatch):
    monkeypatch.setitem(app.config, "CRM_SECRETS_KEY", KEY)
    user = make_user(Role.ADMIN, name="Ada Admin", email="ada@winback.example")
    login(user)
    return user


@pytest.fixture
def org():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield SalesforceOrg(mock, page_size=2)


def test_a_salesforce_login_is_stored_encrypted_and_its_secrets_never_shown_again(client, admin):
    saved = client.post(URL, data=SF_LOGIN, follow_redirects=True)
    html = saved.get_data(as_text=True)
    assert "Saved the Salesforce login; its secrets are stored encrypted." in html
    assert "hunter2-secret" not in html
    assert "TOKEN-abc" not in html
    assert "secrets set: password, security token" in html
    credential = db.session.scalar(select(CrmCredential))
    assert "hunter2" not in credential.secrets
    assert json.loads(Fernet(KEY).decrypt(credential.secrets.encode())) == {
        "password": "hunter2-secret",
        "security_token": "TOKEN-abc",
    }
    assert credential.settings["username"] == "sync@acme.example"

    # Saved again without re-typing the secrets: the stored ones stay.
    client.post(
        URL, data={**SF_LOGIN, "password": "", "security_token": "", "username": "other@acme.example"}
    )
    db.session.expire_all()
    again = json.loads(Fernet(KEY).decrypt(db.session.scalar(select(CrmCredential)).secrets.encode()))
    assert again["password"] == "hunter2-secret"


def test_without_a_secrets_key_nothing_is_stored_and_the_page_says_why(client, admin, app, monkeypatch):
    monkeypatch.setitem(app.config, "CRM_SECRETS_KEY", None)
    page = client.post(URL, data=SF_LOGIN)
    assert page.status_code == 422
    assert "Set CRM_SECRETS_KEY in the environment" in page.get_data(as_text=True)
    assert db.session.scalar(select(CrmCredential)) is None


def test_the_environments_settings_take_precedence_over_a_stored_login(client, admin, app, monkeypatch):
    client.post(URL, data=SF_LOGIN)
    assert effective_config(app.config)["SALESFORCE_PASSWORD"] == "hunter2-secret"
    monkeypatch.setitem(app.config, "SALESFORCE_USERNAME", "env@acme.example")
    monkeypatch.setitem(app.config, "SALESFORCE_PASSWORD", "from-env")
    merged = effective_config(app.config)
    assert (merged["SALESFORCE_USERNAME"], merged["SALESFORCE_PASSWORD"]) == ("env@acme.example", "from-env")


def test_test_connection_reports_what_the_salesforce_login_can_read_and_write(client, admin, org):
    org.add_opportunity(1)
    org.add_opportunity(2)
    client.post(URL, data=SF_LOGIN)

    html = client.post(f"{URL}/test", data={"crm": "salesforce"}).get_data(as_text=True)

    assert "Salesforce: what this login can do" in html
    assert "Signed in to acme.my.salesforce.com." in html
    assert "Read: 2 closed opportunities." in html
    assert "Write: creates and updates opportunities." in html
    assert "Pushes upsert by Winback_ID__c: pushing twice never creates two." in html
    assert "The loss reason is read from Loss_Reason__c." in html

    org.object_flags["createable"] = False  # a read-only user
    assert "Write: not allowed." in client.post(f"{URL}/test", data={"crm": "salesforce"}).get_data(
        as_text=True
    )


def test_test_connection_says_when_the_crm_refuses_the_login(client, admin, org):
    client.post(URL, data=SF_LOGIN)
    org.fail_next("login", 401)  # a wrong password: refused, not retried
    html = client.post(f"{URL}/test", data={"crm": "salesforce"}).get_data(as_text=True)
    assert "Salesforce refused the login" in html


def test_test_connection_reads_hubspot_through_a_stored_private_app_token(client, admin):
    with HubSpotPortal(page_size=2) as portal:
        portal.add_deal(1)
        client.post(
            URL, data={"method": "hubspot:token", "access_token": portal.token, "base_url": portal.base_url}
        )
        html = client.post(f"{URL}/test", data={"crm": "hubspot"}).get_data(as_text=True)
        assert "Read: 1 closed deals." in html
        assert "Pushes upsert by the deal property winback_id." in html
        assert portal.token not in html

        portal.token = "pat-na1-rotated"  # noqa: S105 (the fake portal's)
        refused = client.post(f"{URL}/test", data={"crm": "hubspot"}).get_data(as_text=True)
        assert "HubSpot refused the token (401)" in refused


def test_a_failed_connection_is_shown_to_admins_and_is_a_digest_line(client, admin, make_user):
    now = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
    connection = CrmConnection(crm_source="salesforce", status=ConnectionStatus.OK)
    db.session.add(connection)
    connection.mark_failed("Salesforce refused the renewed session (401)", now=now)
    db.session.commit()

    page = client.get(URL).get_data(as_text=True)
    assert "The Salesforce connection failed on 2026-12-07 06:00 UTC" in page

    assert queue_digests(now=now, review_url="http://winback.test/pipeline/review") == 1
    message = db.session.scalar(
        select(OutboundMessage).where(OutboundMessage.template == "crm.connection_failed")
    )
    assert message.recipient == "ada@winback.example"
    assert (
        "- The Salesforce sync failed on 2026-12-07 06:00 UTC: Salesforce refused the renewed session (401). "
        "Deals waiting to be pushed stay queued." in message.body_text
    )
    assert "http://winback.test/imports/crm-connection" in message.body_text


def test_only_admins_reach_the_connection_page(client, login, make_user):
    login(make_user(Role.SALES_MANAGER))
    assert client.get(URL).status_code == 403
    assert client.post(f"{URL}/test", data={"crm": "salesforce"}).status_code == 403
