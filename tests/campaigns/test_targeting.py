"""Each targeting rule, stored on a campaign, selects exactly the lost deals and contacts it says."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.crm.models import Channel, Competitor
from app.extensions import db
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
    }
