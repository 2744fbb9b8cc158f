"""Factories for the call queue: a calls campaign with a caller and enrolled contacts, on a frozen clock."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from app.auth.models import Role, User
from app.crm.models import Account, Contact, Opportunity
from app.db_types import utcnow
from app.extensions import db
from campaigns.calls.queue import fill_queue
from campaigns.models import Campaign, CampaignKind, CampaignStatus, Enrollment

# Wednesday 18 November 2026, 17:00 UTC: noon in New York, 9:00 in Los Angeles.
NOW = datetime(2026, 11, 18, 17, 0, tzinfo=UTC)
NEW_YORK = "+1212555{:04d}"
LEASE = 900


@dataclass
class Queue:
    campaign: Campaign
    caller: User
    contacts: list[Contact] = field(default_factory=list)
    enrollments: list[Enrollment] = field(default_factory=list)


@pytest.fixture
def make_queue(make_user) -> Callable[..., Queue]:
    """A calls campaign with one caller and `size` enrolled contacts (New York numbers by default)."""
    numbers = itertools.count(100)
    campaigns = itertools.count(1)

    def factory(
        size: int = 3,
        *,
        phones: list[str] | None = None,
        caller: User | None = None,
        fill: bool = True,
        amounts: list[int] | None = None,
        **campaign_fields,
    ) -> Queue:
        caller = caller or make_user(Role.CALLER, phone="+14155550100")
        values = {
            "name": f"Calls {next(campaigns)}",
            "kind": CampaignKind.CALL,
            "status": CampaignStatus.ACTIVE,
            "calling_window_start": time(9, 0),
            "calling_window_end": time(17, 0),
            "call_max_attempts": 6,
            "call_max_per_day": 3,
        }
        values.update(campaign_fields)
        campaign = Campaign(**values)
        campaign.callers = [caller]
        db.session.add(campaign)
        account = Account(
            crm_source="salesforce", crm_id=f"ACC{next(numbers)}", name="Acme Corp", country="US"
        )
        db.session.add(account)
        queue = Queue(campaign, caller)
        phones = phones or [NEW_YORK.format(next(numbers)) for _ in range(size)]
        for index, phone in enumerate(phones):
            n = next(numbers)
            contact = Contact(
                account=account,
                first_name="Pat",
                last_name=f"Doe{n}",
                phone=phone,
                email=f"pat{n}@acme.example",
            )
            amount = Decimal(amounts[index]) if amounts else Decimal("30000")
            opportunity = Opportunity(
                account=account,
                crm_source="salesforce",
                crm_id=f"OPP{n}",
                name=f"Deal {n}",
                stage="Closed Lost",
                is_closed=True,
                is_won=False,
                amount=amount,
                close_date=date(2026, 10, 1),
                crm_loss_reason="Price",
                competitor_raw="Globex",
                owner="Olive Owner",
            )
            enrollment = Enrollment(
                campaign=campaign, opportunity=opportunity, contact=contact, enrolled_at=NOW
            )
            db.session.add_all([contact, opportunity, enrollment])
            queue.contacts.append(contact)
            queue.enrollments.append(enrollment)
        db.session.commit()
        if fill:
            fill_queue(now=NOW, campaign=campaign)
            db.session.commit()
        return queue

    return factory


@pytest.fixture
def survey_version():
    """The ready-made win/loss survey, published: the call script."""
    from app.codebook.service import ensure_default_codebook
    from surveys.builder import publish
    from surveys.library import WIN_LOSS, create_from_template

    ensure_default_codebook()
    survey = create_from_template(WIN_LOSS, now=NOW, name="Win/loss survey")
    version = publish(survey.versions[0], now=NOW)
    db.session.commit()
    return version


@pytest.fixture
def live_queue(make_queue):
    """A queue whose window is open whatever the real time is (the views use the real clock)."""

    def factory(size=2, **fields):
        fields.setdefault("calling_window_start", time(8, 0))
        fields.setdefault("calling_window_end", time(21, 0))
        fields.setdefault("calling_days", list(range(7)))
        queue = make_queue(size, fill=False, **fields)
        zone = _open_zone()
        for contact in queue.contacts:
            contact.phone = "+15555550" + contact.phone[-3:]  # no zone from the number...
            contact.timezone = zone  # ...so the contact's own zone decides
        db.session.commit()
        fill_queue(now=utcnow())
        db.session.commit()
        return queue

    return factory


def _open_zone() -> str:
    """A time zone where it is now between 10:00 and 18:00."""
    for offset in range(-12, 13):
        name = f"Etc/GMT{'+' if offset <= 0 else '-'}{abs(offset)}"
        if 10 <= utcnow().astimezone(ZoneInfo(name)).hour < 18:
            return name
    raise AssertionError("no open zone")


@pytest.fixture
def voice_client(app, client, monkeypatch):
    """Post to a Twilio voice webhook, signed as Twilio signs (or not, or forged)."""
    from twilio.request_validator import RequestValidator

    from tests.calls.twilio_fake import AUTH_TOKEN, TWILIO_FROM

    monkeypatch.setitem(app.config, "TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setitem(app.config, "TWILIO_FROM", TWILIO_FROM)

    def post(path, params, *, signature=None, sign=True):
        headers = {}
        if sign:
            url = app.config["PUBLIC_BASE_URL"].rstrip("/") + path
            headers["X-Twilio-Signature"] = signature or RequestValidator(AUTH_TOKEN).compute_signature(
                url, params
            )
        return client.post(path, data=params, headers=headers)

    return post


@pytest.fixture
def twilio_voice(app, monkeypatch):
    """Twilio voice configured on the app, with the fake transport in place of the network."""
    from tests.calls.twilio_fake import ACCOUNT_SID, AUTH_TOKEN, TWILIO_FROM, FakeTwilioVoice

    fake = FakeTwilioVoice()
    monkeypatch.setitem(app.config, "TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setitem(app.config, "TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setitem(app.config, "TWILIO_FROM", TWILIO_FROM)
    monkeypatch.setitem(app.extensions, "twilio_http_client", fake)
    return fake
