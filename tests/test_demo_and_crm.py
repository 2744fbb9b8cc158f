"""The demo data set and the pages that browse it."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import func, select

from app.auth.models import Role, User
from app.auth.service import authenticate
from app.crm.models import Account, Contact, Opportunity, Origin
from app.demo.generate import generate_crm
from app.extensions import db
from app.validation import normalize_email, normalize_phone

TODAY = date(2026, 11, 23)


def test_generated_crm_is_deterministic_and_shaped_like_a_real_pipeline():
    first = generate_crm(seed=7, today=TODAY)
    second = generate_crm(seed=7, today=TODAY)
    assert [o.amount for o in first.opportunities] == [o.amount for o in second.opportunities]
    assert [a.name for a in first.accounts] == [a.name for a in second.accounts]
    assert generate_crm(seed=8, today=TODAY).accounts[0].name != first.accounts[0].name

    stages = Counter(o.stage for o in first.opportunities)
    assert stages["Closed Lost"] >= 500
    assert len(first.accounts) >= 200
    # As in public CRM samples: more won than lost among closed deals, about a fifth still open.
    assert stages["Closed Won"] > stages["Closed Lost"]
    open_share = 1 - (stages["Closed Won"] + stages["Closed Lost"]) / len(first.opportunities)
    assert 0.1 < open_share < 0.3
    lost = [o for o in first.opportunities if o.stage == "Closed Lost"]
    assert len({o.loss_reason for o in lost}) >= 6
    assert len({o.competitor for o in lost if o.competitor}) >= 6
    assert len({a.segment for a in first.accounts}) == 3
    assert len({a.region for a in first.accounts}) >= 4
    assert all(o.close_date <= TODAY for o in lost)


def test_generated_contacts_have_valid_phones_and_emails():
    crm = generate_crm(seed=3, today=TODAY)
    for account in crm.accounts:
        for contact in account.contacts:
            assert normalize_phone(contact.phone) == contact.phone
            assert normalize_email(contact.email) == contact.email


def test_demo_load_creates_users_and_data_once(runner, own_demo):
    assert "620 lost" in own_demo.output
    logins = [line.split() for line in own_demo.output.splitlines() if "@winback.demo" in line]
    assert {role for role, _, _ in logins} == {r.value for r in Role}
    for _, email, password in logins:
        assert authenticate(email, password) is not None
    assert db.session.scalar(select(func.count()).select_from(Account)) == 240
    lost = db.session.scalar(
        select(func.count()).where(
            Opportunity.is_closed, ~Opportunity.is_won, Opportunity.origin == Origin.CRM
        )
    )
    assert lost == 620  # as imported; one recycled deal also came back lost
    currencies = Counter(db.session.scalars(select(Opportunity.currency)))
    assert set(currencies) == {"USD", "EUR", "GBP"}
    assert db.session.scalar(select(func.count()).where(Contact.call_opt_out_at.is_not(None))) > 0

    again = runner.invoke(args=["demo", "load"])
    assert again.exit_code == 1
    assert "already has users" in again.output
    skipped = runner.invoke(args=["demo", "load", "--if-empty"])
    assert skipped.exit_code == 0
    assert db.session.scalar(select(func.count()).select_from(User)) == 4
    printed = runner.invoke(args=["demo", "logins"])
    assert all(email in printed.output for _, email, _ in logins)


def test_dashboard_shows_loss_reasons_and_competitors(demo, make_user, login):
    client = login(make_user(Role.SALES_MANAGER))
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Lost to Competitor" in page
    assert "Northwind Analytics" in page
    assert "deals lost" in page


def test_lost_deals_list_filters_by_reason_and_segment(make_opportunity, make_account, make_user, login):
    enterprise = make_account(name="Big Bank", segment="Enterprise")
    small = make_account(name="Corner Shop", segment="SMB")
    make_opportunity(enterprise, name="Big Bank renewal", crm_loss_reason="Price")
    make_opportunity(small, name="Corner Shop pilot", crm_loss_reason="Timing")
    make_opportunity(small, name="Corner Shop won deal", is_won=True, stage="Closed Won")
    client = login(make_user(Role.CALLER))

    page = client.get("/opportunities").get_data(as_text=True)
    assert "Big Bank renewal" in page
    assert "Corner Shop pilot" in page
    assert "Corner Shop won deal" not in page

    page = client.get("/opportunities?reason=Price").get_data(as_text=True)
    assert "Big Bank renewal" in page
    assert "Corner Shop pilot" not in page

    page = client.get("/opportunities?segment=SMB&status=all").get_data(as_text=True)
    assert "Corner Shop won deal" in page
    assert "Big Bank renewal" not in page


def test_account_page_shows_contacts_and_deals(
    make_account, make_contact, make_opportunity, make_user, login
):
    account = make_account(name="Acme Robotics")
    make_contact(account, first_name="Rita", last_name="Moreno", title="CFO", phone="+14155550142")
    opp = make_opportunity(account, name="Acme Robotics expansion", crm_loss_reason="Budget")
    client = login(make_user(Role.ANALYST))
    page = client.get(f"/accounts/{account.id}").get_data(as_text=True)
    assert "Rita Moreno" in page
    assert "+14155550142" in page
    assert "Acme Robotics expansion" in page
    detail = client.get(f"/opportunities/{opp.id}").get_data(as_text=True)
    assert "Budget" in detail
    assert "$12,500" in detail
    assert client.get("/opportunities/999999").status_code == 404
