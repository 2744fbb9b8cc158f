"""Import pages and settings that keep good data: the dry run's Import button, the error file's name and
BOM, competitors (add, rename, merge, suggested merges), default currency and phone region, and the
active campaigns a file's lost deals would reach (issues #10 and #12)."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from app.auth.models import Role
from app.crm import competitors as admin
from app.crm.importing.formats import company_key
from app.crm.importing.models import ImportBatch
from app.crm.models import Competitor, CompetitorAlias, CompetitorMergeSuggestion, Contact, Opportunity
from app.extensions import db
from campaigns.models import Campaign, CampaignKind, CampaignStatus
from tests.import_jobs import post_and_run
from tests.test_crm_import import import_path, write_csv

CSV = (
    "Opportunity ID,Opportunity Name,Account Name,Stage,Amount,Close Date,Competitor,Phone,Email\r\n"
    "006U1,Upload one,Up Co,Closed Lost,1000,2026-11-02,Oracle NetSuite,n/a,a@up.example\r\n"
    "006U2,Upload two,Up Co,Closed Lost,lots,2026-11-02,,,\r\n"
    "006U3,Upload three,Up Co,Closed Won,900,2026-11-02,,,\r\n"
)


def _upload(client, text: str, filename: str, **fields) -> str:
    response = client.post(
        "/imports/new",
        data={"file": (io.BytesIO(text.encode()), filename), "format": "", **fields},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def _text(response) -> str:
    return " ".join(response.get_data(as_text=True).split())


def _active_campaign(**rules) -> Campaign:
    campaign = Campaign(
        name=rules.pop("name", "Win-back Q4"),
        kind=CampaignKind.CALL,
        status=CampaignStatus.ACTIVE,
        cooldown_days=90,
        max_contacts_per_account=1,
        **rules,
    )
    db.session.add(campaign)
    db.session.commit()
    return campaign


def test_company_key_ignores_case_punctuation_and_legal_suffixes():
    assert company_key("Northwind Analytics, Inc.") == company_key("NORTHWIND ANALYTICS")
    assert company_key("Globex GmbH") == company_key("globex")
    assert company_key("Initech Ltd.") == "initech"
    assert company_key("Oracle NetSuite") != company_key("Oracle")


def test_fuzzy_matching_never_merges_different_products_it_suggests(runner, tmp_path):
    for name in ("Oracle", "SAP", "Salesforce"):
        db.session.add(Competitor(name=name))
    db.session.commit()
    header = ["Opportunity ID", "Opportunity Name", "Account Name", "Stage", "Competitor"]
    rows = [
        ["1", "A", "Acme", "Closed Lost", "Oracle NetSuite"],
        ["2", "B", "Acme", "Closed Lost", "sap ariba"],
        ["3", "C", "Acme", "Closed Lost", "Salesforce Marketing Cloud"],
        ["4", "D", "Acme", "Closed Lost", "ORACLE, Inc."],
        ["5", "E", "Acme", "Closed Lost", "oracle netsuite"],
    ]
    import_path(runner, write_csv(tmp_path / "c.csv", header, rows))
    by_deal = {o.crm_id: o.competitor.name for o in db.session.scalars(select(Opportunity))}
    assert by_deal == {
        "1": "Oracle NetSuite",
        "2": "sap ariba",
        "3": "Salesforce Marketing Cloud",
        "4": "Oracle",  # exact once case, punctuation and the legal suffix are set aside
        "5": "Oracle NetSuite",
    }
    suggested = {
        (s.competitor.name, s.target.name) for s in db.session.scalars(select(CompetitorMergeSuggestion))
    }
    assert ("Oracle NetSuite", "Oracle") in suggested
    assert len(db.session.scalars(select(Competitor)).all()) == 6


def test_admin_adds_renames_and_merges_competitors_on_the_page(app, make_user, login, runner, tmp_path):
    client = login(make_user(Role.ADMIN))
    assert client.post("/imports/competitors/add", data={"name": "Globex"}).status_code == 302
    refused = client.post("/imports/competitors/add", data={"name": "GLOBEX Ltd"}, follow_redirects=True)
    assert "already known as" in refused.get_data(as_text=True)
    header = ["Opportunity ID", "Opportunity Name", "Account Name", "Stage", "Competitor"]
    rows = [["1", "A", "Acme", "Closed Lost", "Globex Corp"], ["2", "B", "Acme", "Closed Lost", "Globx"]]
    import_path(runner, write_csv(tmp_path / "c.csv", header, rows))
    globex = db.session.scalar(select(Competitor).where(Competitor.name == "Globex"))
    typo = db.session.scalar(select(Competitor).where(Competitor.name == "Globx"))
    typo_id = typo.id
    suggestion = db.session.scalar(select(CompetitorMergeSuggestion))
    assert (suggestion.competitor_id, suggestion.target_id) == (typo.id, globex.id)
    page = client.get("/imports/competitors").get_data(as_text=True)
    assert "Suggested merges" in page
    assert "Merge into Globex" in page

    accepted = client.post(
        f"/imports/competitors/suggestions/{suggestion.id}", data={"action": "accept"}, follow_redirects=True
    )
    assert "Merged into &#39;Globex&#39;" in accepted.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Competitor, typo_id) is None
    assert {o.competitor_id for o in db.session.scalars(select(Opportunity))} == {globex.id}
    assert db.session.scalar(
        select(CompetitorAlias.competitor_id).where(CompetitorAlias.alias == "globx")
    ) == (globex.id)

    client.post(f"/imports/competitors/{globex.id}/rename", data={"name": "Globex Corporation International"})
    db.session.expire_all()
    assert db.session.get(Competitor, globex.id).name == "Globex Corporation International"
    # The old name stays an alias: the CRM's spelling still finds it.
    again = [["3", "C", "Acme", "Closed Lost", "globex"]]
    import_path(runner, write_csv(tmp_path / "d.csv", header, again))
    assert db.session.scalar(select(Opportunity.competitor_id).where(Opportunity.crm_id == "3")) == globex.id

    other = admin.add_competitor("Initech")
    db.session.commit()
    db.session.add(CompetitorAlias(alias="initek", competitor_id=other.id))
    db.session.commit()
    merged = client.post(
        "/imports/competitors/merge", data={"source": other.id, "survivor": globex.id}, follow_redirects=True
    )
    assert merged.status_code == 200
    db.session.expire_all()
    aliases = set(
        db.session.scalars(select(CompetitorAlias.alias).where(CompetitorAlias.competitor_id == globex.id))
    )
    assert {"initek", "initech", "globx", "globex"} <= aliases
    same = client.post("/imports/competitors/merge", data={"source": globex.id, "survivor": globex.id})
    assert same.status_code == 422


def test_a_dismissed_suggestion_keeps_both_competitors(app):
    a, b = Competitor(name="Oracle"), Competitor(name="Oracle NetSuite")
    db.session.add_all([a, b])
    db.session.flush()
    suggestion = CompetitorMergeSuggestion(competitor_id=b.id, target_id=a.id, score=90)
    db.session.add(suggestion)
    db.session.commit()
    admin.dismiss_suggestion(suggestion.id)
    db.session.commit()
    assert len(db.session.scalars(select(Competitor)).all()) == 2
    assert db.session.scalar(select(CompetitorMergeSuggestion)) is None


def test_a_merge_moves_the_campaigns_competitor_filter_to_the_survivor(app):
    a, b = Competitor(name="Oracle"), Competitor(name="Oracel")
    db.session.add_all([a, b])
    db.session.commit()
    campaign = _active_campaign(competitor_ids=[b.id])
    admin.merge_competitors(b.id, a.id)
    db.session.commit()
    db.session.refresh(campaign)
    assert campaign.competitor_ids == [a.id]


def test_default_currency_and_phone_region_come_from_the_settings(make_app, tmp_path):
    app = make_app(DEFAULT_CURRENCY="EUR", DEFAULT_PHONE_REGION="GB")
    header = ["Opportunity ID", "Opportunity Name", "Account Name", "Stage", "Amount", "Phone", "Contact ID"]
    path = write_csv(
        tmp_path / "d.csv", header, [["1", "A", "Acme", "Closed Lost", "12500", "020 7946 0018", "c1"]]
    )
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["crm", "import", str(path), "--json"])
    assert json.loads(result.output)["created"] == 1
    opp = db.session.scalar(select(Opportunity))
    assert (opp.amount, opp.currency) == (12500, "EUR")
    assert db.session.scalar(select(Contact.phone)) == "+442079460018"


def test_the_upload_page_offers_the_settings_defaults(make_app, make_user):
    app = make_app(DEFAULT_CURRENCY="EUR", DEFAULT_PHONE_REGION="GB")
    user = make_user(Role.ADMIN)
    client = app.test_client()
    client.post("/login", data={"email": user.email, "password": "correct horse battery"})
    page = client.get("/imports/new").get_data(as_text=True)
    assert 'value="GB"' in page
    assert 'value="EUR"' in page
    refused = client.post(
        "/imports/new",
        data={
            "file": (io.BytesIO(CSV.encode()), "x.csv"),
            "default_country": "GB",
            "default_currency": "XYZ",
        },
        content_type="multipart/form-data",
    )
    assert "Not a known ISO 4217 currency code" in refused.get_data(as_text=True)


def test_preview_dry_run_and_result_say_which_lost_deals_active_campaigns_match(app, make_user, login):
    big = _active_campaign(name="Big losses", amount_min=500)
    _active_campaign(name="Nobody", amount_min=1_000_000)
    client = login(make_user(Role.ADMIN))
    preview_url = _upload(client, CSV, "export.csv")
    preview = _text(client.get(preview_url))
    assert "Active campaigns will pick up 1 of these lost deals" in preview
    assert f'<a href="/campaigns/{big.id}">Big losses</a>: 1 deal (Upload one)' in preview
    assert "Nobody" not in preview
    assert "Will import with a warning: Phone &#39;n/a&#39; is not a phone number" in preview
    assert db.session.scalar(select(Opportunity)) is None  # the preview wrote nothing

    dry = _text(post_and_run(client, preview_url, {"action": "dry_run"}))
    assert "Nothing was saved" in dry
    assert "Big losses</a>: 1 deal (Upload one)" in dry
    dry_batch = db.session.scalar(select(ImportBatch).where(ImportBatch.dry_run.is_(True)))
    assert dry_batch.settings["campaign_matches"][0]["count"] == 1
    assert db.session.scalar(select(Opportunity)) is None

    # The dry-run page has the Import button: no need to go back to the mapping.
    assert f'action="/imports/{dry_batch.id}/import"' in dry
    done = _text(post_and_run(client, f"/imports/{dry_batch.id}/import"))
    assert "Done." in done
    assert "Big losses</a>: 1 deal (Upload one)" in done
    assert "Imported with warnings" in done
    assert len(db.session.scalars(select(Opportunity)).all()) == 2


def test_cli_import_records_the_campaign_matches(runner, tmp_path):
    _active_campaign(name="All losses")
    header = ["Opportunity ID", "Opportunity Name", "Account Name", "Stage"]
    rows = [["1", "Lost one", "Acme", "Closed Lost"], ["2", "Won one", "Acme", "Closed Won"]]
    counts = import_path(runner, write_csv(tmp_path / "m.csv", header, rows))
    batch = db.session.get(ImportBatch, counts["batch_id"])
    (match,) = batch.settings["campaign_matches"]
    assert (match["campaign"], match["count"], match["deals"]) == ("All losses", 1, ["Lost one"])


def test_preview_of_a_batch_whose_file_is_gone_is_404(app, make_user, login):
    client = login(make_user(Role.ADMIN))
    preview_url = _upload(client, CSV, "export.csv")
    batch = db.session.scalar(select(ImportBatch))
    Path(batch.stored_path).unlink()
    assert client.get(preview_url).status_code == 404
    batch.stored_path = None
    db.session.commit()
    assert client.get(preview_url).status_code == 404


def test_error_file_download_has_a_bom_and_an_escaped_name(app, make_user, login):
    client = login(make_user(Role.ADMIN))
    preview_url = _upload(client, CSV, "export.csv")
    post_and_run(client, preview_url, {"action": "import"})
    batch = db.session.scalar(
        select(ImportBatch).where(ImportBatch.dry_run.is_(False), ImportBatch.status == "done")
    )
    batch.filename = 'evil"\r\nX-Injected: 1;ünï.csv'
    db.session.commit()
    response = client.get(f"/imports/{batch.id}/errors.csv")
    assert response.status_code == 200
    assert response.data.startswith("\ufeff".encode())
    disposition = response.headers["Content-Disposition"]
    assert "\r" not in disposition
    assert "\n" not in disposition
    assert disposition.startswith('attachment; filename="evil_')
    assert disposition.count('"') == 2
    assert "filename*=UTF-8''evil%22%0D%0AX-Injected" in disposition
    assert "X-Injected" not in response.headers
    text = response.data.decode("utf-8-sig")
    assert "(warning: the row was imported)" in text


def test_upload_larger_than_the_limit_is_413(make_app, make_user):
    app = make_app(MAX_CONTENT_LENGTH=1000)
    user = make_user(Role.ADMIN)
    client = app.test_client()
    client.post("/login", data={"email": user.email, "password": "correct horse battery"})
    big = "Opportunity ID,Opportunity Name\r\n" + "1,x\r\n" * 1000
    response = client.post(
        "/imports/new",
        data={"file": (io.BytesIO(big.encode()), "big.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413


def test_history_counts_warnings_apart(app, make_user, login, runner, tmp_path):
    header = ["Opportunity ID", "Opportunity Name", "Account Name", "Stage", "Phone", "Contact ID"]
    import_path(runner, write_csv(tmp_path / "h.csv", header, [["1", "A", "Acme", "Closed Lost", "-", "c1"]]))
    client = login(make_user(Role.ADMIN))
    page = client.get("/imports/").get_data(as_text=True)
    assert "Warnings</th>" in page
    assert '<td class="num">1</td>\n      <td>done</td>' in page.replace("\r", "")


def test_the_result_page_needs_no_script_to_show_progress(app, make_user, login):
    batch = ImportBatch(filename="big.csv", via="ui", status="running", size_bytes=100, bytes_read=50)
    db.session.add(batch)
    db.session.commit()
    client = login(make_user(Role.ADMIN))
    page = client.get(f"/imports/{batch.id}").get_data(as_text=True)
    assert "data-refresh-after" in page  # ui.js reloads the page while the import runs
    assert f'href="/imports/{batch.id}">Refresh now</a>' in page  # and without JS, a link does
    assert '<meta http-equiv="refresh"' not in page  # a timed refresh fails WCAG 2.2.1 (axe meta-refresh)
    assert re.search(r"<script(?![^>]*\bsrc=)", page) is None  # no inline script (CSP)


def test_without_a_campaigns_provider_the_core_matches_nothing(app, runner, tmp_path):
    from app.crm.importing.campaign_matches import PROVIDER, any_active_campaign, campaign_matches

    _active_campaign(name="All losses")
    provider = app.extensions.pop(PROVIDER)
    try:
        assert not any_active_campaign()
        header = ["Opportunity ID", "Opportunity Name", "Account Name", "Stage"]
        counts = import_path(
            runner, write_csv(tmp_path / "n.csv", header, [["1", "Lost", "Acme", "Closed Lost"]])
        )
        assert db.session.get(ImportBatch, counts["batch_id"]).settings["campaign_matches"] == []
        assert campaign_matches("salesforce", ["1"], now=datetime(2026, 11, 28, tzinfo=UTC)) == []
    finally:
        app.extensions[PROVIDER] = provider
    assert any_active_campaign()
    assert campaign_matches("salesforce", ["1"], now=datetime(2026, 11, 28, tzinfo=UTC))[0].count == 1
