"""The review that sells the call: rows that say why a deal matters and whom to call, the unassigned group,
owners pre-filled and kept, the people on the detail page, and messages that say what happened."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.auth.models import Role, User
from app.codebook.models import ReasonCode
from app.coding.models import OpportunityReason
from app.db_types import utcnow
from app.extensions import db
from app.messaging.models import OutboundMessage
from app.pipeline.digest import queue_digests
from app.pipeline.models import Requalification, RequalificationEvidence, RequalificationStatus, SalesTeam
from app.templating import format_money
from surveys.models import Response


@pytest.fixture
def manager(make_user):
    return make_user(Role.SALES_MANAGER, name="Sam Manager", email="sam@winback.example")


def code_label() -> str:
    return db.session.scalar(select(ReasonCode.label).where(ReasonCode.code == "price.too_high"))


def _requalification(response) -> Requalification:
    return db.session.scalar(
        select(Requalification).where(Requalification.account_id == response.opportunity.account_id)
    )


@pytest.fixture
def euro_deal(respond, make_opportunity, make_account, make_contact):
    """A lost EUR deal that went to Northwind, coded "Price too high" by the customer, answered 9 days ago
    by its CFO on the phone."""
    account = make_account(name="Eurco", region="DE")
    opportunity = make_opportunity(
        account=account,
        owner="Dana Owner",
        amount=Decimal("9800"),
        currency="EUR",
        competitor_raw="Northwind",
        crm_loss_reason="Too pricey",
    )
    response = respond(
        opportunity=opportunity, text="Talk to CFO Dana Reyes before March", now=utcnow() - timedelta(days=9)
    )
    code = db.session.scalar(select(ReasonCode).where(ReasonCode.code == "price.too_high"))
    if code is None:
        code = ReasonCode(code="price.too_high", label="Price too high")
        db.session.add(code)
        db.session.flush()
    db.session.add(OpportunityReason(opportunity_id=opportunity.id, reason_code_id=code.id, is_primary=True))
    contact = response.contact
    contact.first_name, contact.last_name, contact.title = "Lena", "Vogel", "Head of Finance"
    db.session.commit()
    return _requalification(response)


def test_a_queue_row_says_why_the_deal_matters_and_whom_to_call(client, login, manager, euro_deal):
    login(manager)
    html = client.get("/pipeline/review").get_data(as_text=True)
    [contact] = euro_deal.account.contacts

    assert format_money(Decimal("9800"), "EUR") in html  # the deal's own currency
    assert "Went to <strong>Northwind</strong>" in html
    assert "CRM: Too pricey" in html
    assert f"Customer: {code_label()}" in html
    assert "<strong>Lena Vogel</strong>, Head of Finance" in html
    assert f'href="tel:{contact.phone}"' in html
    assert f'href="mailto:{contact.email}"' in html
    assert ">9 d<" in html  # its age
    assert "Overdue: " in html
    assert "data-bulk-bar" in html
    assert html.index('id="queue-title"') < html.index("data-bulk-bar")


def test_a_manager_takes_an_unassigned_requalification_and_it_leaves_every_group(
    client, login, manager, make_user, euro_deal
):
    olga = make_user(Role.SALES_MANAGER, name="Olga Other")
    db.session.add_all(
        [
            SalesTeam(manager_id=manager.id, owners=["Eve Owner"], regions=[]),
            SalesTeam(manager_id=olga.id, owners=[], regions=["West"]),
        ]
    )
    db.session.commit()
    login(manager)
    page = client.get("/pipeline/review").get_data(as_text=True)
    assert re.search(r'Unassigned <span class="badge"[^>]*>1</span>', page)
    assert "Take WB-" in page

    taken = client.post(f"/pipeline/requalifications/{euro_deal.id}/take", follow_redirects=True)
    html = taken.get_data(as_text=True)
    assert f"You took {euro_deal.winback_id} (Eurco): it is in your team&#39;s queue now." in html
    assert re.search(r'Unassigned <span class="badge"[^>]*>0</span>', html)
    assert 'class="account">Eurco<' in html.split('id="queue-title"')[1]  # now in Sam's own list

    client.post("/logout")
    login(olga)
    second = client.post(f"/pipeline/requalifications/{euro_deal.id}/take", follow_redirects=True)
    assert f"{euro_deal.winback_id} was already taken by Sam Manager." in second.get_data(as_text=True)
    db.session.expire_all()
    assert euro_deal.assignee_id == manager.id


def test_an_admin_assigns_an_unassigned_requalification_to_a_manager(
    client, login, make_user, manager, euro_deal
):
    db.session.add(SalesTeam(manager_id=manager.id, owners=["Eve Owner"], regions=[]))
    db.session.commit()
    login(make_user(Role.ADMIN))
    page = client.get("/pipeline/review").get_data(as_text=True)
    assert f'id="assign-{euro_deal.id}"' in page
    assert (
        client.post(f"/pipeline/requalifications/{euro_deal.id}/assign", data={"manager_id": "x"}).status_code
        == 302
    )
    done = client.post(
        f"/pipeline/requalifications/{euro_deal.id}/assign",
        data={"manager_id": str(manager.id)},
        follow_redirects=True,
    )
    assert f"Assigned {euro_deal.winback_id} (Eurco) to Sam Manager." in done.get_data(as_text=True)
    db.session.expire_all()
    assert euro_deal.assignee_id == manager.id


def test_the_sla_page_and_the_digest_count_the_unassigned(client, login, manager, make_user, euro_deal):
    db.session.add(SalesTeam(manager_id=manager.id, owners=["Eve Owner"], regions=[]))
    db.session.commit()
    login(make_user(Role.ADMIN))
    sla = client.get("/pipeline/sla").get_data(as_text=True)
    assert re.search(
        r'Unassigned</a> \(no team\'s\)</td>\s*<td class="num"><strong class="overdue">1</strong>', sla
    )

    assert queue_digests(now=utcnow(), review_url="http://winback.test/pipeline/review") == 1
    message = db.session.scalar(select(OutboundMessage).where(OutboundMessage.template == "pipeline.digest"))
    assert message.recipient == "sam@winback.example"
    assert "Unassigned, in no team: 1 overdue, 0 due today" in message.body_text


def test_accepting_pre_fills_the_deals_owner_as_the_matching_user(
    client, login, manager, make_user, euro_deal
):
    make_user(Role.SALES_MANAGER, name="Dana Owner-Smith", email="dana.owner@winback.example")
    euro_deal.opportunity.owner = "DANA.OWNER@winback.example"  # the CRM wrote the owner's email
    db.session.commit()
    login(manager)
    html = client.get(f"/pipeline/requalifications/{euro_deal.id}").get_data(as_text=True)
    assert '<option selected value="Dana Owner-Smith">Dana Owner-Smith</option>' in html


def test_bulk_accept_keeps_each_deals_owner_unless_one_is_chosen(
    client, login, manager, respond, make_opportunity
):
    ann = _requalification(respond(opportunity=make_opportunity(owner="Ann Lee")))
    bo = _requalification(respond(opportunity=make_opportunity(owner="Bo Ek")))
    nobody = _requalification(respond(opportunity=make_opportunity(owner=None)))
    login(manager)
    response = client.post(
        "/pipeline/review/bulk",
        data={"action": "accept", "owner": "", "ids": [str(ann.id), str(bo.id), str(nobody.id)]},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert (
        f"Accepted 2 requalifications; owners: Ann Lee ({ann.winback_id}), Bo Ek ({bo.winback_id})." in html
    )
    assert f"Not accepted: {nobody.winback_id}: its deal has no owner: choose one for it." in html
    db.session.expire_all()
    assert (ann.owner, bo.owner, nobody.status) == ("Ann Lee", "Bo Ek", RequalificationStatus.PENDING)

    chosen = client.post(
        "/pipeline/review/bulk",
        data={"action": "accept", "owner": "Ann Lee", "ids": [str(nobody.id)]},
        follow_redirects=True,
    )
    assert f"Accepted 1 requalification; owners: Ann Lee ({nobody.winback_id})." in chosen.get_data(
        as_text=True
    )


def test_the_detail_names_who_answered_the_caller_and_who_else_was_mentioned(
    client, login, manager, euro_deal, make_contact
):
    make_contact(
        account=euro_deal.account, first_name="Dana", last_name="Reyes", title="CFO", phone="+14155550999"
    )
    login(manager)
    html = client.get(f"/pipeline/requalifications/{euro_deal.id}").get_data(as_text=True)
    evidence = db.session.get(RequalificationEvidence, euro_deal.evidence[0].id)
    caller = db.session.get(User, db.session.get(Response, evidence.response_id).caller_id)
    assert f"Phone interview by {caller.name} with Lena Vogel" in html
    assert "Survey response" not in html
    who = html.split("<h2>Who to call</h2>")[1].split("<h2>What the customer said</h2>")[0]
    assert "<strong>Lena Vogel</strong>, Head of Finance" in who
    assert "Also named in what they said" in who
    assert "<strong>Dana Reyes</strong>, CFO" in who
    assert 'href="tel:+14155550999"' in who
    assert "Within a month" in html
    assert "within_month" not in html


def test_stored_answers_never_show_the_forms_internal_other_value(client, login, manager, euro_deal):
    evidence = euro_deal.evidence[0]
    evidence.response_id = None  # the response was erased: only what was stored remains
    evidence.details = [{"question": "Why did you choose them?", "answer": "__other__"}]
    db.session.commit()
    login(manager)
    html = client.get(f"/pipeline/requalifications/{euro_deal.id}").get_data(as_text=True)
    assert "__other__" not in html
    assert "<dt>Why did you choose them?</dt><dd>Other</dd>" in html


def test_single_decisions_say_what_happened(client, login, manager, euro_deal, respond, make_opportunity):
    login(manager)
    accepted = client.post(
        f"/pipeline/requalifications/{euro_deal.id}/accept",
        data={"owner": "Dana Owner"},
        follow_redirects=True,
    )
    assert f"Accepted {euro_deal.winback_id} (Eurco); owner: Dana Owner." in accepted.get_data(as_text=True)
    other = _requalification(respond(opportunity=make_opportunity()))
    rejected = client.post(
        f"/pipeline/requalifications/{other.id}/reject", data={"reason": "no_budget"}, follow_redirects=True
    )
    assert f"Rejected {other.winback_id} ({other.account.name}): No budget." in rejected.get_data(
        as_text=True
    )
