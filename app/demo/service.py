"""Load the demo data set into the database. The caller commits."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from rapidfuzz import process
from sqlalchemy import func, select

from app.auth.models import Role, User
from app.auth.service import create_user
from app.coding.codebook import ensure_default_codebook
from app.crm.models import Account, Competitor, Contact, Opportunity
from app.demo.generate import COMPETITORS, DemoCrm, generate_crm
from app.demo.messaging import load_messaging_demo
from app.errors import Conflict
from app.extensions import db

CRM_SOURCE = "salesforce"
DEMO_PEOPLE = (
    (Role.ADMIN, "admin@winback.demo", "Morgan Admin"),
    (Role.CALLER, "caller@winback.demo", "Casey Caller"),
    (Role.SALES_MANAGER, "sales@winback.demo", "Sam Sales-Manager"),
    (Role.ANALYST, "analyst@winback.demo", "Alex Analyst"),
)


@dataclass(frozen=True)
class DemoLogin:
    role: Role
    email: str
    password: str


@dataclass(frozen=True)
class DemoResult:
    logins: list[DemoLogin]
    accounts: int
    contacts: int
    opportunities: int
    lost: int
    survey_link: str | None = None
    survey_summary: str | None = None


def database_is_empty() -> bool:
    return not db.session.scalar(select(func.count()).select_from(User))


def _create_demo_users() -> list[DemoLogin]:
    logins = []
    for role, email, name in DEMO_PEOPLE:
        password = secrets.token_urlsafe(12)
        create_user(email, password, role, name=name, phone="+14155550100" if role is Role.CALLER else None)
        logins.append(DemoLogin(role, email, password))
    return logins


def _store_crm(crm: DemoCrm, *, now: datetime) -> dict[str, int]:
    competitors = {name: Competitor(name=name) for name in COMPETITORS}
    db.session.add_all(competitors.values())
    aliases = {alias: name for name, spellings in COMPETITORS.items() for alias in spellings}
    accounts: dict[str, Account] = {}
    contacts: dict[str, Contact] = {}
    for demo in crm.accounts:
        account = Account(
            crm_source=CRM_SOURCE,
            crm_id=demo.crm_id,
            name=demo.name,
            domain=demo.domain,
            industry=demo.industry,
            segment=demo.segment,
            region=demo.region,
            country=demo.country,
            employees=demo.employees,
        )
        accounts[demo.crm_id] = account
        for person in demo.contacts:
            contacts[person.crm_id] = Contact(
                account=account,
                crm_id=person.crm_id,
                first_name=person.first_name,
                last_name=person.last_name,
                title=person.title,
                email=person.email,
                phone=person.phone,
                timezone=person.timezone,
            )
    _mark_some_contacts_unreachable(list(contacts.values()), now=now)
    db.session.add_all(accounts.values())
    db.session.flush()
    lost = 0
    for demo in crm.opportunities:
        competitor = None
        if demo.competitor:
            match = process.extractOne(demo.competitor, aliases.keys())
            competitor = competitors[aliases[match[0]]]
        opportunity = Opportunity(
            crm_source=CRM_SOURCE,
            crm_id=demo.crm_id,
            account=accounts[demo.account.crm_id],
            primary_contact=contacts[demo.contact.crm_id] if demo.contact else None,
            name=demo.name,
            amount=demo.amount,
            currency="USD",
            stage=demo.stage,
            is_closed=demo.stage.startswith("Closed"),
            is_won=demo.stage == "Closed Won",
            close_date=demo.close_date,
            owner=demo.owner,
            product=demo.product,
            crm_loss_reason=demo.loss_reason,
            competitor_raw=demo.competitor,
            competitor=competitor,
        )
        lost += opportunity.is_lost
        db.session.add(opportunity)
    db.session.flush()
    return {
        "accounts": len(accounts),
        "contacts": len(contacts),
        "opportunities": len(crm.opportunities),
        "lost": lost,
    }


def _mark_some_contacts_unreachable(contacts: list[Contact], *, now: datetime) -> None:
    """A real list has people who said stop: every 40th opted out of email, every 55th of calls."""
    for index, contact in enumerate(contacts):
        if index % 40 == 39:
            contact.email_opt_out_at = now - timedelta(days=index % 90)
            contact.email_opt_out_source = "unsubscribe link"
        if index % 55 == 54:
            contact.call_opt_out_at = now - timedelta(days=index % 60)
            contact.call_opt_out_source = "caller: do not call"


def _load_feature_demos(*, now: datetime) -> None:
    """The feature packages' own demo data (app/demo is the top layer: it may import them)."""
    from campaigns.demo import load_demo_campaigns

    load_demo_campaigns(now=now)


def load_demo(*, seed: int, today: date, now: datetime) -> DemoResult:
    """Create one user per role and a realistic CRM; refuse if the database already has users."""
    if not database_is_empty():
        raise Conflict("The database already has users: demo data loads only into an empty database")
    logins = _create_demo_users()
    ensure_default_codebook()
    counts = _store_crm(generate_crm(seed=seed, today=today), now=now)
    surveys = _load_surveys(seed=seed, now=now)
    load_messaging_demo(now=now)
    _load_feature_demos(now=now)  # after the surveys: campaigns use the published win/loss survey
    return DemoResult(logins=logins, **counts, **surveys)


def _load_surveys(*, seed: int, now: datetime) -> dict[str, str]:
    from surveys.demo import load_survey_demo

    demo = load_survey_demo(seed=seed, now=now)
    summary = (
        f"Win/loss survey: {demo.invitations} invitations, {demo.completed} complete and "
        f"{demo.partial} partial responses."
    )
    return {"survey_link": demo.link, "survey_summary": summary}
