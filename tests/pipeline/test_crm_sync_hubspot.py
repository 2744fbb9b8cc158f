"""The live HubSpot sync through the real hubspot-api-client, against a local HTTP server serving the
documented CRM API payloads (HUBSPOT_BASE_URL): search pages, batch upsert by winback_id, retries, an
expired token, the read-back and recovered revenue, and the CLI's JSON contract."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from app.crm.importing.models import ImportBatch
from app.crm.models import Opportunity
from app.crm.sync.base import RetryPolicy
from app.crm.sync.hubspot import HubSpotConnector, HubSpotSettings
from app.crm.sync.models import ConnectionStatus, CrmConnection, CrmPush
from app.extensions import db
from app.pipeline.models import Requalification
from app.pipeline.recycling import pipeline_stats
from tests.crm_fake_hubspot import SEARCH, UPSERT, HubSpotPortal
from tests.pipeline.crm_helpers import accepted_requalification, sync

GOOD_TOKEN = "pat-na1-good"  # noqa: S105 (the fake portal's)
CONTRACT_KEYS = {"pulled", "created", "updated", "unchanged", "failed", "warnings", "pushed", "linked"}


@pytest.fixture
def portal():
    with HubSpotPortal(page_size=2) as running:
        yield running


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def connect(portal, waits):
    def factory(*, token: str = GOOD_TOKEN, oauth: bool = False) -> HubSpotConnector:
        settings = HubSpotSettings(
            access_token=token,
            base_url=portal.base_url,
            refresh_token="refresh-me" if oauth else None,
            client_id="app-id" if oauth else None,
            client_secret="app-secret" if oauth else None,
        )
        return HubSpotConnector(settings, retry=RetryPolicy(sleep=waits.append))

    return factory


@pytest.fixture
def accepted(respond, make_user, make_account, make_opportunity) -> Requalification:
    return accepted_requalification(
        respond, make_user, make_account, make_opportunity, account_crm_id="200042", deal_crm_id="777"
    )


def test_a_sync_pulls_closed_deals_with_their_company_and_contact_page_by_page(portal, connect):
    for number in range(1, 6):
        portal.add_deal(number)
    portal.add_deal(6, stage="presentationscheduled")  # open, not Winback's: not asked for

    counts = sync(connect())

    assert counts["error"] is None
    assert (counts["pulled"], counts["created"], counts["failed"]) == (5, 5, 0)
    assert [s.get("after") for s in portal.searches] == [None, "2", "4"]  # paging.next.after followed
    batch = db.session.get(ImportBatch, counts["batch_id"])
    assert (batch.via, batch.crm_source, batch.created) == ("sync", "hubspot", 5)
    deal = db.session.scalar(select(Opportunity).where(Opportunity.crm_id == "3"))
    assert (deal.name, deal.stage, deal.is_closed, deal.is_won) == ("Deal 3", "closedlost", True, False)
    assert deal.crm_loss_reason == "Too expensive"
    assert deal.close_date.isoformat() == "2026-10-15"
    assert (deal.account.crm_id, deal.account.name, deal.account.country) == ("200003", "Company 3", "DE")
    assert deal.primary_contact.email == "kim3@company3.example"
    assert deal.primary_contact.title == "Head of IT"


def test_the_next_sync_searches_from_the_high_water_mark(portal, connect):
    first = portal.add_deal(1)
    portal.add_deal(2)
    sync(connect())
    mark = db.session.scalar(select(CrmConnection.high_water_mark))
    assert mark == datetime(2026, 11, 1, 9, 2, tzinfo=UTC)  # the newest hs_lastmodifieddate read

    portal.update(first, dealstage="closedwon", hs_is_closed_won="true", amount="15000")
    counts = sync(connect())

    filters = portal.searches[-1]["filterGroups"][0]["filters"]
    assert {
        "propertyName": "hs_lastmodifieddate",
        "operator": "GTE",
        "value": str(int(mark.timestamp() * 1000)),
    } in filters
    assert (counts["pulled"], counts["updated"], counts["unchanged"]) == (2, 1, 1)
    deal = db.session.scalar(select(Opportunity).where(Opportunity.crm_id == first))
    assert (deal.stage, deal.is_won, deal.amount) == ("closedwon", True, 15000)


def test_pushing_twice_upserts_one_deal_by_the_winback_id_property(portal, connect, accepted):
    first = sync(connect())

    assert first["pushed"] == 1
    [deal_id] = portal.by_winback_id(accepted.winback_id)
    sent = portal.upserts[0]["inputs"][0]
    assert (sent["idProperty"], sent["id"]) == ("winback_id", accepted.winback_id)
    assert sent["properties"]["dealstage"] == "appointmentscheduled"
    assert sent["properties"]["closedate"] == "2026-12-23"
    db.session.refresh(accepted)
    assert accepted.crm_opportunity_id == deal_id
    assert first["linked"] == 1

    db.session.scalar(select(CrmPush)).pushed = False
    db.session.commit()
    second = sync(connect())

    assert second["pushed"] == 1
    assert portal.by_winback_id(accepted.winback_id) == [deal_id]
    assert len(portal.upserts) == 2


def test_a_rate_limited_search_waits_what_retry_after_says(portal, connect, waits):
    portal.add_deal(1)
    portal.fail_next(SEARCH, 429, {"Retry-After": "3"})
    portal.fail_next("/crm/v3/objects/companies", 502)

    counts = sync(connect())

    assert waits == [3.0, 1.0]
    assert (counts["created"], counts["error"]) == (1, None)


def test_an_expired_token_is_refreshed_once_with_the_refresh_token(portal, connect):
    portal.add_deal(1)

    counts = sync(connect(token="oauth-expired", oauth=True))

    assert portal.refreshes == 1
    assert (counts["created"], counts["error"]) == (1, None)


def test_a_refused_private_app_token_marks_the_connection_failed(portal, connect):
    portal.add_deal(1)

    counts = sync(connect(token="pat-na1-revoked"))

    assert "401" in counts["error"]
    connection = db.session.scalar(select(CrmConnection))
    assert connection.status is ConnectionStatus.FAILED
    assert "HUBSPOT_ACCESS_TOKEN" in connection.message


def test_a_failed_push_stays_queued_and_is_pushed_by_a_later_run(portal, connect, accepted):
    for _ in range(5):
        portal.fail_next(UPSERT, 503)

    failed = sync(connect())

    assert failed["pushed"] == 0
    assert "503" in failed["error"]
    assert db.session.scalar(select(CrmPush.pushed)) is False

    later = sync(connect())

    assert later["pushed"] == 1
    assert later["error"] is None
    assert len(portal.by_winback_id(accepted.winback_id)) == 1
    assert db.session.scalar(select(CrmConnection.status)) is ConnectionStatus.OK


def test_recovered_revenue_counts_a_won_recycled_deal_once_after_three_pulls(portal, connect, accepted):
    sync(connect())
    [deal_id] = portal.by_winback_id(accepted.winback_id)
    portal.update(
        deal_id, dealstage="closedwon", hs_is_closed="true", hs_is_closed_won="true", amount="42000"
    )

    runs = [sync(connect()) for _ in range(3)]

    assert [run["updated"] for run in runs] == [1, 0, 0]
    stats = pipeline_stats()
    assert (stats["recycled_won"], stats["recovered_revenue"]) == (1, "42000.00")
    assert (
        db.session.scalar(select(func.count()).select_from(Opportunity).where(Opportunity.crm_id == deal_id))
        == 1
    )


def test_the_cli_reads_hubspot_base_url_and_prints_the_contract_keys(portal, runner, app, monkeypatch):
    portal.add_deal(1)
    monkeypatch.setitem(app.config, "HUBSPOT_ACCESS_TOKEN", "pat-na1-good")
    monkeypatch.setitem(app.config, "HUBSPOT_BASE_URL", portal.base_url)

    result = runner.invoke(args=["crm", "sync", "hubspot", "--json"])

    assert result.exit_code == 0, result.output
    counts = json.loads(result.output)
    assert set(counts) == CONTRACT_KEYS
    assert (counts["pulled"], counts["created"]) == (1, 1)
