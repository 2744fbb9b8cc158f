"""The live Salesforce sync through the real simple-salesforce, HTTP faked at the transport (`responses`):
incremental pulls into the import history, pagination, upsert by Winback ID, retries, an expired session,
the read-back that links the recycled deal, and the CLI's JSON contract."""

from __future__ import annotations

import json

import pytest
import responses
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.auth.models import Role
from app.crm.importing.models import BatchStatus, ImportBatch
from app.crm.models import Opportunity
from app.crm.sync.base import RetryPolicy
from app.crm.sync.models import ConnectionStatus, CrmConnection, CrmPush
from app.crm.sync.salesforce import SalesforceConnector, SalesforceSettings
from app.extensions import db
from app.pipeline.models import Requalification
from app.pipeline.recycling import pipeline_stats
from tests.crm_fakes import SF_INSTANCE, SalesforceOrg
from tests.pipeline.conftest import NOW
from tests.pipeline.crm_helpers import accepted_requalification, sync

CONTRACT_KEYS = {"pulled", "created", "updated", "unchanged", "failed", "warnings", "pushed", "linked"}


@pytest.fixture
def org():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield SalesforceOrg(mock, page_size=2)


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def connect(waits):
    """A connector on the fake org: an existing session, and a password login when asked for."""

    def factory(*, login: bool = False) -> SalesforceConnector:
        settings = SalesforceSettings(
            instance_url=SF_INSTANCE,
            access_token="SESSION_1",
            username="sync@acme.example" if login else None,
            password="secret" if login else None,
            security_token="TOKEN" if login else None,
        )
        return SalesforceConnector(settings, retry=RetryPolicy(sleep=waits.append))

    return factory


@pytest.fixture
def accepted(respond, make_user, make_account, make_opportunity) -> Requalification:
    return accepted_requalification(
        respond,
        make_user,
        make_account,
        make_opportunity,
        account_crm_id="001A000000000AB",
        deal_crm_id="006LOST",
    )


def test_a_sync_pulls_closed_opportunities_page_by_page_into_the_import_history(org, connect):
    for number in range(1, 6):
        org.add_opportunity(number)

    counts = sync(connect())

    assert counts["error"] is None
    assert (counts["pulled"], counts["created"], counts["failed"]) == (5, 5, 0)
    assert len(org.queries) == 1  # one query, then its nextRecordsUrl pages (5 records, 2 a page)
    batch = db.session.get(ImportBatch, counts["batch_id"])
    assert (batch.via, batch.crm_source, batch.status, batch.created) == (
        "sync",
        "salesforce",
        BatchStatus.DONE,
        5,
    )
    deal = db.session.scalar(select(Opportunity).where(Opportunity.crm_id == "006A00000000003"))
    assert (deal.name, deal.stage, deal.is_closed, deal.is_won) == ("Deal 3", "Closed Lost", True, False)
    assert (deal.crm_loss_reason, deal.competitor_raw, deal.owner) == ("Price", "Globex", "Dana Owner")
    assert deal.account.name == "Company 3"
    assert deal.account.country == "US"
    assert deal.primary_contact.email == "pat3@company3.example"
    assert deal.primary_contact.title == "CFO"
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "import.finished")) is not None


def test_the_next_sync_asks_only_for_what_changed_since_the_high_water_mark(org, connect):
    first = org.add_opportunity(1)
    org.add_opportunity(2)
    newest = org.add_opportunity(3)
    sync(connect())
    mark = db.session.scalar(select(CrmConnection.high_water_mark))
    assert mark.strftime("%Y-%m-%dT%H:%M:%S") == newest["SystemModstamp"][:19]

    org.update(first["Id"], StageName="Closed Won", IsWon=True, Amount=15000.0)
    counts = sync(connect())

    assert f"SystemModstamp >= {mark:%Y-%m-%dT%H:%M:%SZ}" in org.queries[-1]
    # The deal changed since the mark, and the one stamped at the mark itself, read again unchanged.
    assert (counts["pulled"], counts["created"], counts["updated"], counts["unchanged"]) == (2, 0, 1, 1)
    deal = db.session.scalar(select(Opportunity).where(Opportunity.crm_id == first["Id"]))
    assert (deal.stage, deal.is_won, deal.amount) == ("Closed Won", True, 15000)


def test_since_pulls_from_the_given_day_and_a_dry_run_changes_nothing(org, connect, accepted):
    org.add_opportunity(1)
    counts = sync(connect(), dry_run=True, since=NOW.replace(year=2026, month=1, day=1))

    assert "SystemModstamp >= 2026-01-01T10:00:00Z" in org.queries[-1]
    assert (counts["pulled"], counts["created"], counts["pushed"]) == (1, 1, 1)  # would have
    assert (
        db.session.scalar(
            select(func.count()).select_from(Opportunity).where(Opportunity.crm_id == "006A00000000001")
        )
        == 0
    )
    assert org.upserts == []
    assert db.session.scalar(select(CrmPush.pushed)) is False
    assert db.session.scalar(select(CrmConnection.high_water_mark)) is None


def test_pushing_twice_upserts_one_opportunity_by_winback_id(org, connect, accepted):
    first = sync(connect())

    assert first["pushed"] == 1
    created = org.by_winback_id(accepted.winback_id)
    assert len(created) == 1
    sent = org.upserts[0]["records"][0]
    assert (sent["StageName"], sent["AccountId"], sent["NextStep"]) == (
        "Qualification",
        "001A000000000AB",
        "Call the new CFO",
    )
    assert sent["CloseDate"] == "2026-12-23"  # no next-step date: acceptance + 30 days
    db.session.refresh(accepted)
    assert accepted.crm_opportunity_id == created[0]["Id"]
    # The push read back in the same run links the new deal by its Winback ID.
    assert first["linked"] == 1
    assert accepted.recycled_opportunity.crm_id == created[0]["Id"]

    push = db.session.scalar(select(CrmPush))
    push.pushed = False  # queued again (an edit of the accepted deal does this)
    db.session.commit()
    second = sync(connect())

    assert second["pushed"] == 1
    assert len(org.by_winback_id(accepted.winback_id)) == 1
    assert len(org.upserts) == 2
    assert org.upserts[1]["records"][0]["Winback_ID__c"] == accepted.winback_id


def test_a_rate_limited_query_waits_what_retry_after_says(org, connect, waits):
    org.add_opportunity(1)
    org.add_opportunity(2)
    org.add_opportunity(3)
    org.fail_next("query", 429, {"Retry-After": "7"})
    org.fail_next("more", 503)

    counts = sync(connect())

    assert waits == [7.0, 1.0]  # Retry-After honoured; the 503 backs off by the policy
    assert (counts["pulled"], counts["created"], counts["error"]) == (3, 3, None)


def test_an_expired_session_is_renewed_once_by_logging_in(org, connect):
    org.add_opportunity(1)
    org.session = "SESSION_RENEWED_ELSEWHERE"  # the given token no longer works

    counts = sync(connect(login=True))

    assert org.sessions == 1  # one SOAP login
    assert (counts["created"], counts["error"]) == (1, None)
    assert db.session.scalar(select(CrmConnection.status)) is ConnectionStatus.OK


def test_an_expired_session_without_a_login_marks_the_connection_failed(org, connect):
    org.add_opportunity(1)
    org.session = "SESSION_RENEWED_ELSEWHERE"

    counts = sync(connect())

    assert "expired" in counts["error"]
    assert counts["created"] == 0
    connection = db.session.scalar(select(CrmConnection))
    assert connection.status is ConnectionStatus.FAILED
    assert "SALESFORCE_ACCESS_TOKEN" in connection.message


def test_a_failed_push_stays_queued_and_is_pushed_by_a_later_run(org, connect, accepted, waits):
    for _ in range(5):  # every attempt of the policy
        org.fail_next(
            "upsert", 503, body=[{"message": "Service Unavailable", "errorCode": "SERVER_UNAVAILABLE"}]
        )

    failed = sync(connect())

    assert failed["pushed"] == 0
    assert "503" in failed["error"]
    push = db.session.scalar(select(CrmPush))
    assert push.pushed is False
    assert push.crm_id is None
    assert db.session.scalar(select(CrmConnection.status)) is ConnectionStatus.FAILED

    later = sync(connect())

    assert later["pushed"] == 1
    assert later["error"] is None
    db.session.refresh(push)
    assert push.pushed is True
    assert push.crm_id == org.by_winback_id(accepted.winback_id)[0]["Id"]
    assert len(org.by_winback_id(accepted.winback_id)) == 1
    assert db.session.scalar(select(CrmConnection.status)) is ConnectionStatus.OK


def test_recovered_revenue_counts_a_won_recycled_deal_once_after_three_pulls(org, connect, accepted):
    sync(connect())
    [deal] = org.by_winback_id(accepted.winback_id)
    org.update(deal["Id"], StageName="Closed Won", IsClosed=True, IsWon=True, Amount=50000.0)

    runs = [sync(connect()) for _ in range(3)]

    assert [run["updated"] for run in runs] == [1, 0, 0]
    stats = pipeline_stats()
    assert (stats["recycled_won"], stats["recovered_revenue"]) == (1, "50000.00")
    assert (
        db.session.scalar(
            select(func.count()).select_from(Opportunity).where(Opportunity.crm_id == deal["Id"])
        )
        == 1
    )


def test_the_cli_prints_one_json_object_with_the_contract_keys(org, runner, app, monkeypatch, accepted):
    org.add_opportunity(1)
    monkeypatch.setitem(app.config, "SALESFORCE_INSTANCE_URL", SF_INSTANCE)
    monkeypatch.setitem(app.config, "SALESFORCE_ACCESS_TOKEN", "SESSION_1")

    result = runner.invoke(args=["crm", "sync", "salesforce", "--json"])

    assert result.exit_code == 0, result.output
    counts = json.loads(result.output)
    assert set(counts) == CONTRACT_KEYS
    assert (counts["pulled"], counts["created"], counts["pushed"], counts["linked"]) == (2, 2, 1, 1)


def test_the_cli_says_the_connection_failed_and_exits_1(org, runner, app, monkeypatch):
    monkeypatch.setitem(app.config, "SALESFORCE_INSTANCE_URL", SF_INSTANCE)
    monkeypatch.setitem(app.config, "SALESFORCE_ACCESS_TOKEN", "SESSION_STALE")

    result = runner.invoke(args=["crm", "sync", "salesforce", "--json"])

    assert result.exit_code == 1
    assert set(json.loads(result.stdout)) == CONTRACT_KEYS
    assert "the salesforce connection failed" in result.stderr
    assert "expired" in result.stderr


def test_admins_see_a_failed_connection_on_the_imports_page(org, connect, make_user, login, client):
    org.session = "SESSION_RENEWED_ELSEWHERE"
    sync(connect())
    login(make_user(Role.ADMIN))

    page = client.get("/imports/").get_data(as_text=True)

    assert "The Salesforce sync failed on" in page
    assert "no login is configured to renew it" in page
    assert "deals waiting to be pushed stay queued" in page


def test_the_worker_job_syncs_each_configured_crm_and_nothing_else(org, app):
    from app.crm.sync import sync_configured
    from app.jobs import periodic_jobs

    org.add_opportunity(1)
    assert "crm.sync" in {job.name for job in periodic_jobs(app)}
    assert sync_configured({}, now=NOW) == {}

    config = {"SALESFORCE_INSTANCE_URL": SF_INSTANCE, "SALESFORCE_ACCESS_TOKEN": "SESSION_1"}
    results = sync_configured(config, now=NOW)

    assert list(results) == ["salesforce"]
    assert (results["salesforce"]["pulled"], results["salesforce"]["created"]) == (1, 1)
    assert db.session.scalar(select(func.count()).select_from(Opportunity)) == 1
