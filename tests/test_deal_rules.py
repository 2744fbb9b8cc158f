"""The deal rules of app/crm/deals.py (issue #18): a deal's state and the deal filters are one definition,
so the CRM's deal list, the reports and the SQL agree deal by deal with the Python state."""

from __future__ import annotations

import itertools
from datetime import date

from sqlalchemy import select

from app.crm.deals import DealFilter, in_state, lost_deal, open_deal, won_deal
from app.crm.models import Competitor, Opportunity
from app.crm.service import OpportunityFilters, opportunities_query
from app.extensions import db
from app.reports.filters import ReportFilters, lost_opportunities

STATES = {"lost": (True, False), "won": (True, True), "open": (False, False)}


def test_each_state_in_sql_is_the_state_in_python(make_opportunity):
    deals = {state: make_opportunity(is_closed=c, is_won=w) for state, (c, w) in STATES.items()}
    db.session.commit()
    for state, rule in (("lost", lost_deal), ("won", won_deal), ("open", open_deal)):
        assert db.session.scalars(select(Opportunity.id).where(rule())).all() == [deals[state].id]
        assert db.session.scalars(select(Opportunity.id).where(in_state(state))).all() == [deals[state].id]
        assert deals[state].status == state
    assert in_state("all") is None


def test_the_crm_list_and_the_reports_keep_the_same_lost_deals_for_the_same_filters(
    make_opportunity, make_account
):
    rival = Competitor(name="Rival")
    db.session.add(rival)
    db.session.flush()
    accounts = [
        make_account(segment=segment, region=region)
        for segment, region in itertools.product(("SMB", "Enterprise"), ("EMEA", "APAC"))
    ]
    for account, competitor, (closed, won) in itertools.product(accounts, (rival.id, None), STATES.values()):
        make_opportunity(
            account, competitor_id=competitor, is_closed=closed, is_won=won, close_date=date(2026, 5, 1)
        )
    db.session.commit()
    wide = {"start": date(2026, 1, 1), "end": date(2026, 12, 31)}
    for segment, region, competitor in itertools.product(("SMB", None), ("APAC", None), (rival.id, None)):
        listed = db.session.scalars(
            opportunities_query(
                OpportunityFilters(segment=segment or "", region=region or "", competitor_id=competitor)
            ).with_only_columns(Opportunity.id)
        ).all()
        reported = db.session.scalars(
            lost_opportunities(
                ReportFilters(**wide, segment=segment, region=region, competitor=competitor)
            ).with_only_columns(Opportunity.id)
        ).all()
        applied = db.session.scalars(
            DealFilter(**wide, segment=segment, region=region, competitor=competitor).apply(
                select(Opportunity.id).where(lost_deal()), join_account=True
            )
        ).all()
        assert sorted(listed) == sorted(reported) == sorted(applied)
        assert len(listed) == 8 // (2 if segment else 1) // (2 if region else 1) // (2 if competitor else 1)
