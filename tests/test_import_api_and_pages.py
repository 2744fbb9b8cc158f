"""The push API and the import pages, end to end."""

from __future__ import annotations

import io

from sqlalchemy import select

from app.api.models import ALL_SCOPES
from app.api.service import create_token
from app.auth.models import Role
from app.crm.importing.models import ImportBatch
from app.crm.models import Opportunity
from app.db_types import utcnow
from app.extensions import db
from tests.import_jobs import post_and_run


def _token() -> dict:
    _, secret = create_token("crm-push", now=utcnow())
    db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


ITEM = {
    "crm_source": "salesforce",
    "crm_id": "006P1",
    "name": "Pushed deal",
    "stage": "Closed Lost",
    "amount": "12500.00",
    "currency": "EUR",
    "close_date": "2026-11-20",
    "owner": "Dana",
    "crm_loss_reason": "Price",
    "competitor": "Globex",
    "account": {"crm_id": "001P", "name": "Push Co", "country": "GB"},
    "contacts": [
        {"first_name": "Al", "last_name": "Bo", "email": "AL@push.example", "phone": "020 7946 0018"}
    ],
}


def test_push_api_upserts_per_item_and_lists_with_filters(client):
    headers = _token()
    bad = {**ITEM, "crm_id": "006P2", "amount": "twelve"}
    response = client.post("/api/v1/opportunities", json=[ITEM, bad], headers=headers)
    body = response.get_json()
    assert response.status_code == 200
    assert [i["status"] for i in body["items"]] == ["created", "failed"]
    assert body["items"][1]["error"]["message"] == "amount 'twelve' is not a number"
    again = client.post("/api/v1/opportunities", json=[ITEM], headers=headers).get_json()
    assert again["items"][0]["status"] == "unchanged"
    moved = client.post("/api/v1/opportunities", json=[{**ITEM, "stage": "Closed Won"}], headers=headers)
    assert moved.get_json()["items"][0]["status"] == "updated"

    listed = client.get("/api/v1/opportunities?status=won&crm_id=006P1", headers=headers).get_json()
    assert listed["next"] is None
    (item,) = listed["items"]
    assert item["amount"] == "12500.00"
    assert item["currency"] == "EUR"
    assert item["is_won"] is True
    assert item["close_date"] == "2026-11-20"
    assert item["account"] == {"crm_id": "001P", "name": "Push Co"}
    assert item["contacts"][0]["phone"] == "+442079460018"
    assert item["contacts"][0]["email"] == "al@push.example"
    assert client.get("/api/v1/opportunities?status=lost", headers=headers).get_json()["items"] == []
    too_many = client.post("/api/v1/opportunities", json=[ITEM] * 1001, headers=headers)
    assert too_many.status_code == 422
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/opportunities" in spec["paths"]


def test_api_pagination_follows_next(client):
    headers = _token()
    items = [{**ITEM, "crm_id": f"006Q{n}", "contacts": []} for n in range(5)]
    client.post("/api/v1/opportunities", json=items, headers=headers)
    page = client.get("/api/v1/opportunities?limit=2", headers=headers).get_json()
    seen = [i["crm_id"] for i in page["items"]]
    while page["next"]:
        page = client.get(page["next"], headers=headers).get_json()
        seen += [i["crm_id"] for i in page["items"]]
    assert seen == [f"006Q{n}" for n in range(5)]


CSV = (
    "Opportunity ID,Opportunity Name,Account Name,Stage,Amount,Close Date\r\n"
    '006U1,Upload one,Up Co,Closed Lost,"$1,000.00",11/02/2026\r\n'
    "006U2,Upload two,Up Co,Closed Lost,lots,11/02/2026\r\n"
)


def _upload(client, text: str, filename: str) -> str:
    """Upload a file on the import page; the URL of its preview."""
    response = client.post(
        "/imports/new",
        data={"file": (io.BytesIO(text.encode()), filename), "format": "", "default_country": "US"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    return response.headers["Location"]


def test_upload_preview_dry_run_import_history_and_error_file(app, make_user, login):
    client = login(make_user(Role.ADMIN))
    preview_url = _upload(client, CSV, "export.csv")
    page = client.get(preview_url).get_data(as_text=True)
    assert "a Salesforce report" in page
    assert "Upload one" in page
    assert "Will fail: Amount &#39;lots&#39; is not a number" in page
    columns = {
        "col_crm_id": "Opportunity ID",
        "col_name": "Opportunity Name",
        "col_account_name": "Account Name",
        "col_stage": "Stage",
        "col_amount": "Amount",
        "col_close_date": "Close Date",
    }
    dry = post_and_run(
        client,
        preview_url,
        {**columns, "action": "dry_run", "lost_stages": "Closed Lost", "won_stages": "Closed Won"},
    )
    assert "Nothing was saved" in dry.get_data(as_text=True)
    assert db.session.scalar(select(Opportunity)) is None
    done = post_and_run(
        client,
        preview_url,
        {**columns, "action": "import", "lost_stages": "Closed Lost", "won_stages": "Closed Won"},
    )
    text = done.get_data(as_text=True)
    assert "Done." in text
    assert "Download the error file" in text
    opp = db.session.scalar(select(Opportunity))
    assert opp.name == "Upload one"
    batch = db.session.scalars(
        select(ImportBatch).where(ImportBatch.dry_run.is_(False), ImportBatch.status == "done")
    ).one()
    history = client.get("/imports/").get_data(as_text=True)
    assert "export.csv" in history
    assert "1 (error file)" in history
    errors = client.get(f"/imports/{batch.id}/errors.csv").get_data(as_text=True)
    assert errors.splitlines()[0].endswith(",error")
    assert "lots" in errors
    assert "line 3: Amount 'lots' is not a number" in errors


def test_api_token_page_shows_the_secret_once_and_revokes(app, make_user, login):
    client = login(make_user(Role.ADMIN))
    page = client.post(
        "/imports/api-tokens", data={"name": "hubspot", "scopes": ALL_SCOPES}, follow_redirects=True
    )
    text = page.get_data(as_text=True)
    assert "Copy it now" in text
    secret = text.split('<code id="new-token">')[1].split("</code>")[0]
    assert (
        client.get("/api/v1/opportunities", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    )
    assert secret not in client.get("/imports/api-tokens").get_data(as_text=True)


def test_the_api_is_rate_limited_per_address(make_app):
    limited = make_app(RATELIMIT_ENABLED=True, API_RATE_LIMIT="2 per minute")
    with limited.app_context():
        _, secret = create_token("rate-test", now=utcnow())
        db.session.commit()
    client = limited.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    codes = [client.get("/api/v1/opportunities", headers=headers).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert client.get("/api/v1/opportunities", headers=headers).get_json()["error"]["code"] == "rate_limited"


def test_an_account_file_is_previewed_and_imported_as_accounts(app, make_user, login):
    from app.crm.models import Account

    client = login(make_user(Role.ADMIN))
    csv_text = (
        "Account ID,Account Name,Industry,Billing Country,Employees\r\n001K,Kestrel Ltd,Retail,GB,40\r\n"
    )
    preview_url = _upload(client, csv_text, "accounts.csv")
    page = client.get(preview_url).get_data(as_text=True)
    assert '<option selected value="accounts">' in page or 'value="accounts" selected' in page
    assert "Matched by" in page
    assert "Kestrel Ltd" in page
    assert "no opportunity id column" not in page

    columns = {
        "col_account_crm_id": "Account ID",
        "col_account_name": "Account Name",
        "col_account_country": "Billing Country",
    }
    done = post_and_run(client, preview_url, {**columns, "target": "accounts", "action": "import"})

    assert "Done." in done.get_data(as_text=True)
    account = db.session.scalar(select(Account).where(Account.crm_id == "001K"))
    assert (account.name, account.country) == ("Kestrel Ltd", "GB")
    assert db.session.scalar(select(Opportunity)) is None


def test_switching_a_deal_file_to_accounts_shows_the_preview_again_before_importing(app, make_user, login):
    client = login(make_user(Role.ADMIN))
    preview_url = _upload(client, CSV, "export.csv")

    switched = client.post(preview_url, data={"target": "accounts", "action": "import"})

    assert switched.status_code == 200  # the admin sees the rows as accounts first
    assert "Matched by" in switched.get_data(as_text=True)
    assert db.session.scalar(select(ImportBatch).where(ImportBatch.status == "done")) is None


def test_the_history_and_result_pages_say_an_account_file_held_accounts(
    app, make_user, login, runner, tmp_path
):
    path = tmp_path / "accounts.csv"
    path.write_text("Account ID,Account Name,Industry\n001K,Kestrel Ltd,Retail\n")
    result = runner.invoke(args=["crm", "import", str(path), "--json"])
    assert result.exit_code == 0, result.output
    client = login(make_user(Role.ADMIN))
    batch = db.session.scalars(select(ImportBatch)).one()

    history = client.get("/imports/").get_data(as_text=True)
    page = client.get(f"/imports/{batch.id}").get_data(as_text=True)

    assert "salesforce (accounts)" in history
    assert "<caption>Accounts</caption>" in page


def test_unticking_the_natural_key_stops_the_import_again(app, make_user, login):
    client = login(make_user(Role.ADMIN))
    no_id = (
        "Opportunity Name,Account Name,Stage,Amount,Close Date\r\nDeal,Acme,Closed Lost,100,2026-11-01\r\n"
    )
    preview_url = _upload(client, no_id, "noid.csv")
    client.post(preview_url, data={"confirm_natural_key": "y", "action": "preview"})

    unticked = client.post(preview_url, data={"action": "import"}, follow_redirects=True)

    assert "confirm the natural key first" in unticked.get_data(as_text=True)
    assert db.session.scalar(select(Opportunity)) is None


def test_the_push_api_reads_amounts_and_phones_with_the_apps_default_currency_and_region(make_app):
    german = make_app(DEFAULT_CURRENCY="EUR", DEFAULT_PHONE_REGION="DE")
    with german.app_context():
        headers = _token()
        item = {
            **ITEM,
            "currency": None,
            "amount": "9000",
            "account": {"crm_id": "001D", "name": "Berlin GmbH"},  # no country: the app's region
            "contacts": [
                {"first_name": "Jo", "last_name": "Ka", "email": "jo@berlin.example", "phone": "030 901820"}
            ],
        }
        del item["currency"]
        response = german.test_client().post("/api/v1/opportunities", json=[item], headers=headers)
        assert response.get_json()["items"][0]["status"] == "created"
        db.session.expire_all()
        stored = db.session.scalar(select(Opportunity).where(Opportunity.crm_id == ITEM["crm_id"]))
        assert stored.currency == "EUR"
        assert stored.account.contacts[0].phone == "+4930901820"
