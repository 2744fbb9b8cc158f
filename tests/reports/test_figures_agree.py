"""The same figure agrees wherever it is shown, on generated worlds (issue #18, property-based).

Each world: deals in USD, EUR (with or without a rate) and GBP (never a rate), enrolled in November 2026 in
two campaigns over email, SMS or phone; calls with every disposition (and failed calls), web and phone
responses, requalifications in every state, won, lost and open recycled deals, and a sales team. Then:
the funnel page = its CSV = `reports figures --json` = the admin home; recovered revenue there =
`pipeline stats --json` = the targets' month = by campaign = by owner; reached and responded are what the
rules say, deal by deal (a contact whose calls all failed is never reached); the manager's team figures
are the company's filtered to the team (the lost deals and their amount, the pending reviews, the revenue
won back).
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict
from werkzeug.security import generate_password_hash

from app.auth.models import Role, User, new_session_token
from app.crm.models import Account, Contact, Opportunity, Origin
from app.extensions import db
from app.messaging.channels import Channel
from app.money.service import money_total_of, set_rate
from app.pipeline.models import Requalification, RequalificationSource, RequalificationStatus, SalesTeam
from app.pipeline.queue import QueueFilters, queue_query
from app.pipeline.recycling import recovered_by
from app.reports.filters import ReportFilters, lost_opportunities
from app.reports.funnel import funnel_report, step_deals
from app.reports.home import funnel_summary, team_home
from app.reports.outcomes import CONNECTED
from app.reports.targets import month_actuals
from campaigns.calls.models import CallAttempt, CallTask, Disposition
from campaigns.models import Campaign, CampaignKind, Enrollment
from surveys.models import Invitation
from surveys.responding import record_phone_response
from tests.coding.conftest import SPECS
from tests.conftest import PASSWORD, _empty_all_tables
from tests.survey_helpers import published_survey

NOV = (date(2026, 11, 1), date(2026, 11, 30))
ARGS = "from=2026-11-01&to=2026-11-30"
OWNERS = ("Ann", "Bob")
REGIONS = ("West", "East")
CURRENCIES = ("USD", "EUR", "GBP")
DISPOSITIONS = (*Disposition, None)  # None: a call that failed before anyone picked up


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


@dataclass(frozen=True)
class Spec:
    campaign: int
    channel: str  # email, sms or phone
    opened: bool
    completed: bool
    calls: tuple[Disposition | None, ...]
    answered_on_call: bool
    owner: str
    region: str
    currency: str
    amount: int
    requalification: RequalificationStatus | None
    recycled: str | None  # won, lost, open

    @property
    def reached(self) -> bool:
        if self.channel == "phone":
            return any(d in CONNECTED for d in self.calls)
        return self.opened or self.completed

    @property
    def responded(self) -> bool:
        if self.channel == "phone":
            return self.answered_on_call and any(d in CONNECTED for d in self.calls)
        return self.completed


specs = st.builds(
    Spec,
    campaign=st.integers(0, 1),
    channel=st.sampled_from(("email", "sms", "phone")),
    opened=st.booleans(),
    completed=st.booleans(),
    calls=st.lists(st.sampled_from(DISPOSITIONS), min_size=1, max_size=3).map(tuple),
    answered_on_call=st.booleans(),
    owner=st.sampled_from(OWNERS),
    region=st.sampled_from(REGIONS),
    currency=st.sampled_from(CURRENCIES),
    amount=st.integers(100, 9_000),
    requalification=st.none() | st.sampled_from(RequalificationStatus),
    recycled=st.none() | st.sampled_from(("won", "lost", "open")),
)
worlds = st.tuples(st.lists(specs, min_size=1, max_size=6), st.booleans(), st.sampled_from((*OWNERS, None)))


@cache
def _password_hash() -> str:
    return generate_password_hash(PASSWORD)  # slow on purpose: computed once for every world


def _user(email: str, name: str, role: Role) -> User:
    user = User(
        email=email, name=name, role=role, password_hash=_password_hash(), session_token=new_session_token()
    )
    db.session.add(user)
    db.session.flush()
    return user


def _build(world: list[Spec], euro_rate: bool, team_owner: str | None) -> dict:
    survey = published_survey(SPECS, name="Win/loss")
    version = survey.published
    caller = _user("caller@example.com", "Cal Caller", Role.CALLER)
    manager = _user("manager@example.com", "Mia Manager", Role.SALES_MANAGER)
    admin = _user("admin@example.com", "Ada Admin", Role.ADMIN)
    if team_owner is not None:
        db.session.add(SalesTeam(manager_id=manager.id, owners=[team_owner], regions=[]))
    campaigns = [
        Campaign(name="Spring", kind=CampaignKind.BOTH),
        Campaign(name="Calls", kind=CampaignKind.BOTH),
    ]
    db.session.add_all(campaigns)
    db.session.flush()
    tokens = itertools.count()
    for n, spec in enumerate(world):
        account = Account(crm_source="salesforce", crm_id=f"A{n}", name=f"Account {n}", region=spec.region)
        db.session.add(account)
        db.session.flush()
        contact = Contact(account_id=account.id, crm_id=f"C{n}", first_name="Pat", last_name=f"N{n}")
        db.session.add(contact)
        db.session.flush()
        deal = Opportunity(
            crm_source="salesforce",
            crm_id=f"O{n}",
            account_id=account.id,
            primary_contact_id=contact.id,
            name=f"Deal {n}",
            amount=Decimal(spec.amount),
            currency=spec.currency,
            stage="Closed Lost",
            is_closed=True,
            is_won=False,
            close_date=date(2026, 10, 1),
            owner=spec.owner,
        )
        db.session.add(deal)
        db.session.flush()
        campaign = campaigns[spec.campaign]
        enrollment = Enrollment(campaign=campaign, contact=contact, opportunity=deal, enrolled_at=at(2))
        db.session.add(enrollment)
        db.session.flush()
        if spec.channel == "phone":
            _phone(spec, enrollment, version, caller)
        else:
            token = next(tokens)
            invitation = Invitation(
                version_id=version.id,
                contact_id=contact.id,
                opportunity_id=deal.id,
                channel=Channel(spec.channel),
                nonce=f"{token:032x}",
                token_hash=f"{token:064x}",
                sent_at=at(2),
                opened_at=at(3) if spec.opened else None,
                completed_at=at(4) if spec.completed else None,
            )
            db.session.add(invitation)
            db.session.flush()
            enrollment.invitation_id = invitation.id
        if spec.requalification is not None:
            _requalify(spec, deal, campaign, manager, n)
    if euro_rate:
        set_rate(month=date(2026, 11, 1), currency="EUR", rate=Decimal("1.10"), now=at(1))
        set_rate(month=date(2026, 10, 1), currency="EUR", rate=Decimal("1.05"), now=at(1))
    db.session.commit()
    return {"manager": manager, "admin": admin}


def _phone(spec: Spec, enrollment: Enrollment, version, caller) -> None:
    task = CallTask(
        campaign_id=enrollment.campaign_id,
        enrollment_id=enrollment.id,
        contact_id=enrollment.contact_id,
        due_at=at(3),
    )
    db.session.add(task)
    db.session.flush()
    response_id = None
    if spec.answered_on_call:
        q = [question.id for question in version.questions]
        response, errors = record_phone_response(
            version,
            MultiDict([(f"q{q[0]}", "price"), (f"q{q[2]}", "Too dear")]),
            caller=caller,
            contact=enrollment.contact,
            opportunity=enrollment.opportunity,
            now=at(3),
        )
        assert errors == {}
        response_id = response.id
    for day, disposition in enumerate(spec.calls, start=3):
        connected = disposition in CONNECTED
        db.session.add(
            CallAttempt(
                task_id=task.id,
                campaign_id=enrollment.campaign_id,
                contact_id=enrollment.contact_id,
                caller_id=caller.id,
                phone="+14155550123",
                started_at=at(day),
                # A machine picks up too: an attempt may have answered and still reached nobody.
                answered_at=at(day) if disposition is not None and disposition != Disposition.BUSY else None,
                disposition=disposition,
                # The caller opens the script on every call; only a connected call takes the answers down.
                response_id=response_id if connected or disposition == Disposition.NO_ANSWER else None,
            )
        )


def _requalify(spec: Spec, deal: Opportunity, campaign: Campaign, manager, n: int) -> None:
    status = spec.requalification
    decided = status in (RequalificationStatus.ACCEPTED, RequalificationStatus.REJECTED)
    recycled = None
    if status is RequalificationStatus.ACCEPTED and spec.recycled is not None:
        recycled = Opportunity(
            crm_source="salesforce",
            crm_id=f"R{n}",
            account_id=deal.account_id,
            name=f"Deal {n} (recycled)",
            amount=Decimal(spec.amount + 500),
            currency=spec.currency,
            stage={"won": "Closed Won", "lost": "Closed Lost", "open": "Proposal"}[spec.recycled],
            is_closed=spec.recycled != "open",
            is_won=spec.recycled == "won",
            close_date=date(2026, 11, 20),
            owner=spec.owner,
            origin=Origin.RECYCLED,
            recycled_from_id=deal.id,
        )
        db.session.add(recycled)
        db.session.flush()
    db.session.add(
        Requalification(
            account_id=deal.account_id,
            opportunity_id=deal.id,
            campaign_id=campaign.id,
            source=RequalificationSource.SURVEY,
            status=status,
            created_at=at(5),
            updated_at=at(6),
            decided_at=at(6) if decided else None,
            reviewer_id=manager.id if decided else None,
            owner=spec.owner if status is RequalificationStatus.ACCEPTED else None,
            recycled_opportunity_id=recycled.id if recycled else None,
        )
    )


def _signed_in(app, user):
    """A browser of its own for each user."""
    client = app.test_client()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return client


SLOW = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@SLOW
@given(worlds)
def test_every_place_agrees_on_the_funnel_and_recovered_revenue(app, runner, world):
    deals, euro_rate, team_owner = world
    try:
        users = _build(deals, euro_rate, team_owner)
        report = funnel_report(*NOV)
        overall = report.overall

        # Reached and responded, deal by deal, are what the rules say: failed calls never reach.
        reached = {f"Deal {n}" for n, spec in enumerate(deals) if spec.reached}
        responded = {f"Deal {n}" for n, spec in enumerate(deals) if spec.responded}
        assert {d.name for d in step_deals("reached", *NOV)} == reached
        assert {d.name for d in step_deals("responded", *NOV)} == responded
        assert (overall.enrolled, overall.reached, overall.responded) == (
            len(deals),
            len(reached),
            len(responded),
        )

        # The funnel page = its CSV = the command = the admin home.
        figures = json.loads(
            runner.invoke(
                args=["reports", "figures", "--from", "2026-11-01", "--to", "2026-11-30", "--json"]
            ).output
        )
        steps = [
            overall.count(step)
            for step in ("enrolled", "reached", "responded", "requalified", "accepted", "won")
        ]
        assert [
            figures[k] for k in ("enrolled", "reached", "responded", "requalified", "accepted", "won")
        ] == steps
        assert figures["recovered_revenue"] == f"{overall.recovered.total:.2f}"
        phone = next(row for row in report.channels if row.channel == "phone")
        assert figures["channels"]["phone"] == {
            "contacted": phone.contacted,
            "reached": phone.reached,
            "responded": phone.responded,
        }
        db.session.commit()  # end the test's read transaction: the pages run beside it
        client = _signed_in(app, users["admin"])
        csv_row = client.get(f"/reports/funnel.csv?{ARGS}").get_data(as_text=True).splitlines()[1].split(",")
        assert csv_row[:7] == ["All campaigns", *map(str, steps)]
        assert f"{overall.recovered.total:.2f}" in csv_row
        home = funnel_summary(NOV[1], days=30)
        assert [home.overall.count(s) for s in ("enrolled", "reached", "responded")] == steps[:3]
        assert (home.requalified, home.accepted, home.won) == tuple(steps[3:])
        assert home.recovered.total == overall.recovered.total

        # Recovered revenue: the pipeline's command = the funnel = the targets' month = by campaign = by
        # owner, and the deals left unconverted agree too.
        stats = json.loads(runner.invoke(args=["pipeline", "stats", "--json"]).output)
        assert stats["recovered_revenue"] == figures["recovered_revenue"]
        assert stats["recycled_won"] == overall.won
        month = month_actuals(*NOV)
        assert month.recovered.total == overall.recovered.total
        assert month.recycled_won == overall.won
        unconverted = [(i.currency, f"{i.amount:.2f}", i.deals) for i in overall.recovered.not_converted]
        assert [(i["currency"], i["amount"], i["deals"]) for i in stats["not_converted"]] == unconverted
        assert [
            (i.currency, f"{i.amount:.2f}", i.deals) for i in month.recovered.not_converted
        ] == unconverted
        by_campaign, by_owner = recovered_by("campaign"), recovered_by("owner")
        assert sum(row[2] for row in by_campaign) == overall.recovered.total
        assert sum(row[2] for row in by_owner) == overall.recovered.total
        assert sum(row[1] for row in by_campaign) == sum(row[1] for row in by_owner) == overall.won

        # The manager's team figures are the company's, filtered to the team, and say so.
        home_page = client.get("/dashboard")
        db.session.commit()
        client = _signed_in(app, users["manager"])
        page = " ".join(client.get("/dashboard").get_data(as_text=True).split())
        mine = team_home(users["manager"], now=datetime.now(UTC))
        in_team = [spec for spec in deals if team_owner is None or spec.owner == team_owner]
        since = datetime.now(UTC).date() - timedelta(days=90)
        lost = [date(2026, 10, 1)] * len(in_team)  # the deals, and the recycled deals lost again
        lost += [
            date(2026, 11, 20)
            for s in in_team
            if s.requalification is RequalificationStatus.ACCEPTED and s.recycled == "lost"
        ]
        assert mine.losses == sum(1 for day in lost if day >= since)
        won_in_team = [
            s for s in in_team if s.requalification is RequalificationStatus.ACCEPTED and s.recycled == "won"
        ]
        assert mine.recovered_won == len(won_in_team)
        # ... and the company's figures, filtered to the team's owner, are the same figures.
        company = ReportFilters(start=since, end=datetime.now(UTC).date(), owner=team_owner)
        lost = lost_opportunities(company)
        assert mine.losses == db.session.scalar(select(func.count()).select_from(lost.subquery()))
        assert mine.lost_revenue == money_total_of(lost)
        owners = {row[0]: row for row in by_owner}
        team_rows = [row for name, row in owners.items() if team_owner is None or name == team_owner]
        assert mine.recovered.total == sum(row[2] for row in team_rows)
        assert mine.recovered_won == sum(row[1] for row in team_rows)
        queue = queue_query(
            QueueFilters(owner=team_owner or "", team_only=False),
            manager=users["admin"],
            now=datetime.now(UTC),
        )
        assert mine.pending_total == db.session.scalar(
            select(func.count()).select_from(queue.order_by(None).subquery())
        )
        scope = "your team" if team_owner else "company-wide"
        assert f"Revenue won back, {scope}" in page
        assert re.search(rf"Pending reviews, {scope}: \d+", page)
        assert home_page.status_code == 200
    finally:
        db.session.rollback()
        _empty_all_tables()
