"""Back to the CRM and back: the export files, the API's CRM id, later imports linking the recycled deal,
recovered revenue counted once, and the stats command."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.api.service import create_token
from app.auth.models import Role
from app.crm.models import Opportunity, Origin
from app.db_types import utcnow
from app.extensions import db
from app.pipeline.models import Requalification, RequalificationSource, RequalificationStatus
from app.pipeline.service import accept
from tests.pipeline.conftest import NOW
from tests.test_crm_import import SF_HEADER, import_path, write_csv

STATS_KEYS = [
    "pending",
    "accepted",
    "rejected",
    "deferred",
    "exported",
    "recycled_open",
    "recycled_won",
    "recovered_revenue",
    "currency",
    "not_converted",
]


@pytest.fixture
def accepted(respond, make_user, make_account, make_opportunity) -> Requalification:
    account = make_account(name="Acme Corp", crm_id="001A")
    response = respond(opportunity=make_opportunity(account=account, crm_id="006LOST", owner="Dana Owner"))
    requalification = db.session.scalar(select(Requalification))
    accept(
        requalification,
        reviewer=make_user(Role.SALES_MANAGER),
        owner="Eve Owner",
        expected_amount=None,
        next_step="Call the new CFO",
        next_step_date=None,
        now=NOW,
    )
    db.session.commit()
    assert response.opportunity_id == requalification.opportunity_id
    return requalification


def stats(runner) -> dict:
    result = runner.invoke(args=["pipeline", "stats", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def crm_row(crm_id: str, stage: str, amount: str, winback_id: str = "") -> list[str]:
    values = {
        "Opportunity ID": crm_id,
        "Opportunity Name": "Acme – recycled",
        "Account Name": "Acme Corp",
        "Account ID": "001A",
        "Stage": stage,
        "Amount": amount,
        "Close Date": "12/20/2026",
        "Opportunity Owner": "Eve Owner",
        "Billing Country": "US",
    }
    return [values.get(column, "") for column in SF_HEADER] + ([winback_id] if winback_id != "-" else [])


@pytest.mark.parametrize(
    ("export_format", "header"),
    [
        ("salesforce", ["Winback ID", "Opportunity Name", "Account ID"]),
        ("hubspot", ["Winback ID", "Deal Name"]),
    ],
)
def test_the_export_is_a_crm_import_file_with_the_winback_and_original_ids(
    runner, tmp_path, accepted, export_format, header
):
    path = tmp_path / "out.csv"
    result = runner.invoke(args=["pipeline", "export", "--format", export_format, str(path)])
    assert result.exit_code == 0, result.output
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert list(rows[0])[: len(header)] == header
    assert rows[0]["Winback ID"] == f"WB-{accepted.id}"
    original = "Original Opportunity ID" if export_format == "salesforce" else "Original Deal ID"
    assert rows[0][original] == "006LOST"
    assert "12500.00" in rows[0].values()
    db.session.expire_all()
    assert accepted.exported_at is not None


def test_export_since_a_later_date_writes_no_row_and_a_bad_date_is_refused(runner, tmp_path, accepted):
    path = tmp_path / "out.csv"
    result = runner.invoke(
        args=["pipeline", "export", "--format", "hubspot", "--since", "2027-01-01", str(path)]
    )
    assert result.exit_code == 0, result.output
    assert "0 requalifications" in result.output
    bad = runner.invoke(args=["pipeline", "export", "--format", "hubspot", "--since", "tomorrow", str(path)])
    assert bad.exit_code == 2
    assert "YYYY-MM-DD" in bad.output


def test_a_crm_import_with_the_winback_id_links_the_deal_and_its_won_amount_counts_once(
    runner, tmp_path, accepted, client, login, make_user
):
    runner.invoke(args=["pipeline", "export", "--format", "salesforce", str(tmp_path / "out.csv")])
    header = [*SF_HEADER, "Winback ID"]
    open_file = write_csv(
        tmp_path / "open.csv", header, [crm_row("006NEW", "Prospecting", "20000", f"WB-{accepted.id}")]
    )
    import_path(runner, open_file)

    recycled = db.session.scalar(select(Opportunity).where(Opportunity.crm_id == "006NEW"))
    db.session.expire_all()
    assert accepted.recycled_opportunity_id == recycled.id
    assert accepted.crm_opportunity_id == "006NEW"
    assert recycled.origin is Origin.RECYCLED
    assert recycled.recycled_from_id == accepted.opportunity_id
    figures = stats(runner)
    assert figures["recycled_open"] == 1
    assert figures["recovered_revenue"] == "0.00"

    won_file = write_csv(
        tmp_path / "won.csv", header, [crm_row("006NEW", "Closed Won", "21000", f"WB-{accepted.id}")]
    )
    for _ in range(3):
        import_path(runner, won_file)
    figures = stats(runner)
    assert list(figures) == STATS_KEYS
    assert figures == {
        "pending": 0,
        "accepted": 1,
        "rejected": 0,
        "deferred": 0,
        "exported": 1,
        "recycled_open": 0,
        "recycled_won": 1,
        "recovered_revenue": "21000.00",
        "currency": "USD",
        "not_converted": [],
    }
    login(make_user(Role.SALES_MANAGER))
    page = client.get("/pipeline/recycled").get_data(as_text=True)
    assert "Closed Won" in page
    # Credited to the campaign (none here) and to the owner, once each.
    assert page.count("$21,000") == 3  # the deal's row, the campaign total, the owner total
    assert "(no campaign)" in page


def test_recovered_revenue_is_in_the_reporting_currency_and_a_deal_without_a_rate_is_kept_apart(
    runner, accepted, make_opportunity, make_account, client, login, make_user
):
    from app.money.service import set_rate

    set_rate(month=date(2026, 12, 1), currency="EUR", rate=Decimal("1.10"), now=NOW)
    won_eur = make_opportunity(
        account=make_account(name="Eurco"),
        stage="Closed Won",
        is_won=True,
        amount=Decimal("10000"),
        currency="EUR",
        close_date=date(2026, 12, 20),
        origin=Origin.RECYCLED,
    )
    won_gbp = make_opportunity(
        account=make_account(name="Britco"),
        stage="Closed Won",
        is_won=True,
        amount=Decimal("5000"),
        currency="GBP",
        close_date=date(2026, 12, 20),
        origin=Origin.RECYCLED,
    )
    accepted.recycled_opportunity_id = won_eur.id
    other = Requalification(
        account_id=won_gbp.account_id,
        opportunity_id=won_gbp.id,
        status=RequalificationStatus.ACCEPTED,
        owner="Eve Owner",
        recycled_opportunity_id=won_gbp.id,
        score=50,
        created_at=NOW,
        source=RequalificationSource.SURVEY,
    )
    db.session.add(other)
    db.session.commit()
    figures = stats(runner)
    # 10,000 EUR at 1.10 = 11,000 USD; the GBP deal has no December rate: apart, never added.
    assert figures["recovered_revenue"] == "11000.00"
    assert figures["currency"] == "USD"
    assert figures["not_converted"] == [{"currency": "GBP", "amount": "5000.00", "deals": 1}]
    login(make_user(Role.SALES_MANAGER))
    page = client.get("/pipeline/recycled").get_data(as_text=True)
    assert "$11,000" in page
    assert "$16,000" not in page  # never 10,000 + 5,000 + anything mixed


def test_the_api_sets_the_crm_id_and_a_later_import_of_that_id_links_the_deal(
    client, runner, tmp_path, accepted
):
    _, secret = create_token("crm", now=utcnow())
    db.session.commit()
    url = f"/api/v1/requalifications/{accepted.id}"
    headers = {"Authorization": f"Bearer {secret}"}

    assert client.patch(url, json={"crm_opportunity_id": "006X"}).status_code == 401
    bad = client.patch(url, json={"crm_opportunity_id": 7}, headers=headers)
    assert bad.status_code == 422
    assert bad.get_json()["error"]["field"] == "crm_opportunity_id"
    assert (
        client.patch(
            "/api/v1/requalifications/999999", json={"crm_opportunity_id": "x"}, headers=headers
        ).status_code
        == 404
    )

    response = client.patch(url, json={"crm_opportunity_id": "006API"}, headers=headers)
    assert response.status_code == 200
    assert response.get_json() == {
        "id": accepted.id,
        "winback_id": f"WB-{accepted.id}",
        "status": "accepted",
        "crm_opportunity_id": "006API",
        "recycled_opportunity_id": None,
    }
    import_path(
        runner, write_csv(tmp_path / "x.csv", SF_HEADER, [crm_row("006API", "Closed Won", "5000", "-")])
    )
    assert stats(runner)["recovered_revenue"] == "5000.00"


def test_the_api_refuses_a_crm_id_for_a_pending_requalification(client, respond):
    respond()
    pending = db.session.scalar(select(Requalification))
    _, secret = create_token("crm", now=utcnow())
    db.session.commit()
    response = client.patch(
        f"/api/v1/requalifications/{pending.id}",
        json={"crm_opportunity_id": "006X"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 409


def test_the_openapi_document_describes_the_requalification_patch(client):
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/requalifications/{id}"]["patch"]
    assert "crm_opportunity_id" in json.dumps(operation)


def test_a_sales_manager_downloads_the_export_from_the_page(client, login, make_user, accepted):
    login(make_user(Role.SALES_MANAGER))
    page = client.get("/pipeline/recycled").get_data(as_text=True)
    assert f"WB-{accepted.id}" in page
    response = client.post("/pipeline/export", data={"format": "hubspot"})
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith('attachment; filename="winback-hubspot-')
    assert response.data.startswith(b"\xef\xbb\xbf")
    assert f"WB-{accepted.id}".encode() in response.data


def test_a_push_through_the_api_links_the_recycled_deal_by_its_crm_id(client, runner, accepted):
    _, secret = create_token("crm", now=utcnow())
    db.session.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    client.patch(
        f"/api/v1/requalifications/{accepted.id}", json={"crm_opportunity_id": "006PUSH"}, headers=headers
    )
    item = {
        "crm_source": "salesforce",
        "crm_id": "006PUSH",
        "name": "Acme – recycled",
        "stage": "Closed Won",
        "is_closed": True,
        "is_won": True,
        "amount": "7000.00",
        "currency": "USD",
        "close_date": "2026-12-20",
        "account": {"crm_id": "001A", "name": "Acme Corp"},
        "contacts": [],
    }
    for _ in range(2):
        response = client.post("/api/v1/opportunities", json=[item], headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
    db.session.expire_all()
    assert accepted.recycled_opportunity_id is not None
    assert stats(runner)["recovered_revenue"] == "7000.00"
