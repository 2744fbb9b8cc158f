"""Load the demo data set into the database. The caller commits."""

from __future__ import annotations

import secrets
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from app.auth.models import Role, User
from app.auth.service import create_user
from app.codebook.service import ensure_default_codebook
from app.crm.deals import lost_deal
from app.crm.models import Account, Competitor, Contact
from app.demo.generate import COMPETITORS, DemoCrm, generate_crm
from app.demo.messaging import load_messaging_demo
from app.demo.organisation import load_demo_organisation
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


CRM_LANGUAGES = {"DE": "de", "FR": "fr"}


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
    """Write the CRM as a Salesforce export and bring it in through the import service, like a customer."""
    from app.crm.importing.formats import mapping_for
    from app.crm.importing.records import ImportSettings
    from app.crm.importing.service import run_import, start_batch
    from app.crm.models import CompetitorAlias
    from app.demo.crm_export import HEADER, write_salesforce_export

    competitors = {name: Competitor(name=name) for name in COMPETITORS}
    db.session.add_all(competitors.values())
    db.session.flush()
    for name, spellings in COMPETITORS.items():  # the aliases an admin would have entered
        for alias in {s.strip().lower() for s in spellings} - {name.lower()}:
            db.session.add(CompetitorAlias(alias=alias, competitor_id=competitors[name].id))
    with tempfile.TemporaryDirectory() as folder:
        path = write_salesforce_export(crm, Path(folder) / "salesforce-opportunities.csv")
        batch = start_batch(filename=path.name, via="demo", actor_label="demo", now=now)
        run_import(batch, path, mapping_for("salesforce", HEADER), ImportSettings(), now=now)
    if batch.failed:
        raise RuntimeError(f"the demo export did not import cleanly: {batch.failed} rows failed")
    # Contacts without a deal in the export come from the CRM's contact list.
    known = set(db.session.scalars(select(Contact.crm_id)))
    accounts = {a.crm_id: a for a in db.session.scalars(select(Account))}
    timezones = {}
    for demo in crm.accounts:
        for person in demo.contacts:
            timezones[person.crm_id] = person.timezone
            if person.crm_id not in known:
                db.session.add(
                    Contact(
                        account=accounts[demo.crm_id],
                        crm_id=person.crm_id,
                        first_name=person.first_name,
                        last_name=person.last_name,
                        title=person.title,
                        email=person.email,
                        phone=person.phone,
                    )
                )
    db.session.flush()
    contacts = list(db.session.scalars(select(Contact).order_by(Contact.crm_id)))
    for contact in contacts:
        contact.timezone = timezones.get(contact.crm_id)
        # The CRM's language column: German and French customers have theirs; the Dutch have none, so
        # their country's default (Dutch, which the demo survey lacks) shows on the activation check.
        contact.language = CRM_LANGUAGES.get(contact.account.country)
    _mark_some_contacts_unreachable(contacts, now=now)
    db.session.flush()
    lost = db.session.scalar(select(func.count()).where(lost_deal()))
    return {
        "accounts": len(accounts),
        "contacts": len(contacts),
        "opportunities": batch.created,
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


def _load_feature_demos(*, seed: int, today: date, now: datetime) -> None:
    """The feature packages' own demo data (app/demo is the top layer: it may import them)."""
    from app.coding.demo import load_coding_demo
    from app.demo import reporting
    from app.pipeline.demo import load_pipeline_demo
    from campaigns.demo import load_demo_campaigns

    load_demo_campaigns(now=now)
    # The campaigns at work: invitations answered and calls made before coding and the pipeline look.
    reporting.play_survey_campaigns(seed=seed, now=now)
    reporting.play_call_campaign(seed=seed, now=now)
    load_coding_demo(now=now)
    load_pipeline_demo(now=now)
    reporting.add_recycled_loss(now=now)
    reporting.give_the_team_its_recycled_deals()
    reporting.load_exchange_rates(today=today, now=now)
    reporting.set_demo_targets(now=now)


def load_demo(*, seed: int, today: date, now: datetime) -> DemoResult:
    """Create one user per role and a realistic CRM; refuse if the database already has users."""
    if not database_is_empty():
        raise Conflict("The database already has users: demo data loads only into an empty database")
    logins = _create_demo_users()
    load_demo_organisation(now=now)
    ensure_default_codebook()
    counts = _store_crm(generate_crm(seed=seed, today=today), now=now)
    surveys = _load_surveys(seed=seed, now=now)
    load_messaging_demo(now=now)
    _load_feature_demos(
        seed=seed, today=today, now=now
    )  # after the surveys: campaigns use the published win/loss survey
    return DemoResult(logins=logins, **counts, **surveys)


def _load_surveys(*, seed: int, now: datetime) -> dict[str, str]:
    from surveys.demo import load_survey_demo

    demo = load_survey_demo(seed=seed, now=now)
    summary = (
        f"Win/loss survey: {demo.invitations} invitations, {demo.completed} complete and "
        f"{demo.partial} partial responses."
    )
    return {"survey_link": demo.link, "survey_summary": summary}
