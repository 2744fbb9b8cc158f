"""Each targeting rule, stored on a campaign, selects exactly the lost deals and contacts it says."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.auth.models import Role
from app.crm.models import Competitor
from app.extensions import db
from app.messaging.channels import Channel
from app.money.service import set_rate
from campaigns.enrollment import enroll_campaign, preview_rules
from campaigns.models import Campaign, Enrollment
from campaigns.targeting import TargetingRules

from .conftest import NOW


def _competitor(name: str) -> int:
    competitor = db.session.scalar(select(Competitor).where(Competitor.name == name))
    if competitor is None:
        competitor = Competitor(name=name)
        db.session.add(competitor)
        db.session.flush()
    return competitor.id


# rule stored on the campaign, deal fields that match, deal fields that do not
RULES = {
    "lost within 60 days": (
        {"lost_within_days": 60},
        {"close_date": date(2026, 10, 1)},
        {"close_date": date(2026, 8, 1)},
    ),
    "wait 30 days after close": (
        {"wait_days_after_close": 30},
        {"close_date": date(2026, 10, 1)},
        {"close_date": date(2026, 11, 10)},
    ),
    "amount from": (
        {"amount_min": Decimal("10000")},
        {"amount": Decimal("10000")},
        {"amount": Decimal("9999.99")},
    ),
    "amount up to": (
        {"amount_max": Decimal("50000")},
        {"amount": Decimal("50000")},
        {"amount": Decimal("50000.01")},
    ),
    "CRM loss reasons": (
        {"loss_reasons": ["Price", "Timing"]},
        {"crm_loss_reason": "Timing"},
        {"crm_loss_reason": "Features"},
    ),
    "owners": ({"owners": ["Dana Reyes"]}, {"owner": "Dana Reyes"}, {"owner": "Lee Park"}),
    "segments": ({"segments": ["Enterprise"]}, {"account.segment": "Enterprise"}, {"account.segment": "SMB"}),
    "regions": ({"regions": ["EMEA"]}, {"account.region": "EMEA"}, {"account.region": "West"}),
    "competitors": ({"competitor_ids": ["Globex"]}, {"competitor": "Globex"}, {"competitor": "Initech"}),
}


def _make_deal(fields: dict, make_account, make_contact, make_opportunity):
    account_fields = {
        key.split(".", 1)[1]: value for key, value in fields.items() if key.startswith("account.")
    }
    deal_fields = {key: value for key, value in fields.items() if not key.startswith("account.")}
    if "competitor" in deal_fields:
        deal_fields["competitor_id"] = _competitor(deal_fields.pop("competitor"))
    account = make_account(**account_fields)
    contact = make_contact(account=account)
    return make_opportunity(account=account, primary_contact=contact, **deal_fields)


@pytest.mark.parametrize("rule", RULES)
def test_each_targeting_rule_selects_only_matching_lost_deals(
    rule, make_campaign, make_account, make_contact, make_opportunity
):
    stored, matching, other = RULES[rule]
    if "competitor_ids" in stored:
        stored = {"competitor_ids": [_competitor(name) for name in stored["competitor_ids"]]}
    hit = _make_deal(matching, make_account, make_contact, make_opportunity)
    _make_deal(other, make_account, make_contact, make_opportunity)
    campaign = make_campaign(**stored)
    stored_back = db.session.get(Campaign, campaign.id)
    db.session.refresh(stored_back)

    enroll_campaign(stored_back, now=NOW)
    db.session.commit()

    assert [e.opportunity_id for e in db.session.scalars(select(Enrollment))] == [hit.id]


def test_won_and_open_deals_are_never_targeted(make_campaign, make_account, make_contact, make_opportunity):
    lost = _make_deal({}, make_account, make_contact, make_opportunity)
    _make_deal({"stage": "Closed Won", "is_won": True}, make_account, make_contact, make_opportunity)
    campaign = make_campaign()
    enroll_campaign(campaign, now=NOW)
    assert [e.opportunity_id for e in db.session.scalars(select(Enrollment))] == [lost.id]


def test_title_keywords_and_at_most_k_contacts_per_account(
    make_campaign, make_account, make_contact, make_opportunity
):
    account = make_account()
    primary = make_contact(account=account, title="VP Operations")
    director = make_contact(account=account, title="Director of IT")
    make_contact(account=account, title="Chief Procurement Officer")
    make_contact(account=account, title="Intern")
    opp = make_opportunity(account=account, primary_contact=primary)
    campaign = make_campaign(title_keywords=["vp", "Director", "procurement"], max_contacts_per_account=2)

    enroll_campaign(campaign, now=NOW)

    enrolled = {(e.opportunity_id, e.contact_id) for e in db.session.scalars(select(Enrollment))}
    # The deal's primary contact first, then by contact order; the intern never matches.
    assert enrolled == {(opp.id, primary.id), (opp.id, director.id)}


def test_preview_counts_deals_contacts_and_suppressed_by_reason(make_account, make_contact, make_opportunity):
    for erased in (False, False, True):
        account = make_account()
        contact = make_contact(account=account, erased_at=NOW if erased else None)
        make_contact(account=account, phone=None)
        make_opportunity(account=account, primary_contact=contact)
    make_opportunity(account=make_account())  # a lost deal whose account has no contacts

    preview = preview_rules(TargetingRules(max_contacts_per_account=2, channel=Channel.CALL), now=NOW)

    assert preview.to_json() == {
        "deals": 4,
        "contacts": 6,
        "eligible": 2,
        "suppressed": 4,
        "by_reason": {"erased": 1, "no_address": 3},
        "currency": None,  # no amount rule: nothing converted, no deal left out for want of a rate
        "no_rate": 0,
    }


@pytest.fixture
def deals_in_three_currencies(make_account, make_contact, make_opportunity):
    """Reporting currency USD; a EUR rate for September 2026 only (1.10); no GBP rate at all.

    deal  amount       closed      in USD                        amount from 10,000 / up to 50,000
    A     EUR  9,500   2026-09-15  9,500 x 1.10 = 10,450.00      matches (its raw 9,500 would not)
    B     USD  9,999.99 2026-09-20 9,999.99                      below 10,000
    C     EUR 50,000   2026-09-01  50,000 x 1.10 = 55,000.00     above 50,000 (its raw 50,000 would match)
    D     EUR 12,000   2026-08-20  no August rate                left out of any amount rule
    E     GBP 20,000   2026-09-10  no GBP rate                   left out of any amount rule
    F     USD 50,000   2026-09-05  50,000.00                     matches both bounds
    """
    set_rate(month=date(2026, 9, 1), currency="EUR", rate=Decimal("1.10"), now=NOW)
    specs = {
        "A": ("EUR", "9500", date(2026, 9, 15)),
        "B": ("USD", "9999.99", date(2026, 9, 20)),
        "C": ("EUR", "50000", date(2026, 9, 1)),
        "D": ("EUR", "12000", date(2026, 8, 20)),
        "E": ("GBP", "20000", date(2026, 9, 10)),
        "F": ("USD", "50000", date(2026, 9, 5)),
    }
    deals = {}
    for name, (currency, amount, closed) in specs.items():
        account = make_account()
        contact = make_contact(account=account)
        deals[name] = make_opportunity(
            account=account,
            primary_contact=contact,
            name=name,
            currency=currency,
            amount=Decimal(amount),
            close_date=closed,
        )
    db.session.commit()
    return deals


def _enrolled_names(campaign) -> list[str]:
    enroll_campaign(campaign, now=NOW)
    db.session.commit()
    return sorted(e.opportunity.name for e in db.session.scalars(select(Enrollment)))


def test_amount_rules_compare_the_amount_converted_with_its_close_month_rate(
    deals_in_three_currencies, make_campaign
):
    campaign = make_campaign(amount_min=Decimal("10000"), amount_max=Decimal("50000"))
    assert _enrolled_names(campaign) == ["A", "F"]


def test_a_deal_without_a_rate_matches_no_amount_rule_and_the_preview_counts_it(deals_in_three_currencies):
    at_least = preview_rules(TargetingRules(amount_min=Decimal("0")), now=NOW)
    assert (at_least.deals, at_least.no_rate, at_least.currency) == (4, 2, "USD")  # A, B, C, F; D and E
    up_to = preview_rules(TargetingRules(amount_max=Decimal("10000")), now=NOW)
    assert (up_to.deals, up_to.no_rate) == (1, 2)  # B only
    anything = preview_rules(TargetingRules(), now=NOW)
    assert (anything.deals, anything.no_rate, anything.currency) == (6, 0, None)  # every lost deal


def test_the_rule_page_says_amounts_are_in_the_reporting_currency_and_how_many_lack_a_rate(
    deals_in_three_currencies, make_campaign, login, make_user
):
    campaign = make_campaign(amount_min=Decimal("10000"))
    client = login(make_user(Role.ADMIN))
    page = client.get(f"/campaigns/{campaign.id}/edit").get_data(as_text=True)
    assert "In the reporting currency, converted with the rate of each deal&#39;s close month" in page
    note = " ".join(page.split('data-preview="amount-note"', 1)[1].split("</p>", 1)[0].split())
    assert 'amounts in <span data-preview="currency">USD</span>, the reporting currency' in note
    assert '<strong data-preview="no-rate">2</strong> deals are left out for want of an exchange rate' in note
    assert "hidden" not in note.split(">", 1)[0]  # shown: the campaign has an amount rule
