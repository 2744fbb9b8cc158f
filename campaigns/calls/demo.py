"""Demo call queue: the demo calls campaign's contacts live where it is working hours right now.

So a new user can sign in as the caller and take a call at once, whatever the day and time the demo
is loaded: the campaign calls every day from 8:00 to 21:00, and each demo contact gets a (fictional)
phone number and time zone where it is early afternoon.
"""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import select

from app.crm.models import Contact
from app.extensions import db
from campaigns.calls.hours import candidate_zones, zone_info
from campaigns.calls.queue import FillResult, fill_campaign
from campaigns.models import Campaign, Enrollment, EnrollmentStatus

# Fictional numbers (555-01xx in North America, Ofcom's drama range in London...), one zone each.
NUMBER_PLANS = (
    "+1808555{:04d}",  # Honolulu
    "+1415555{:04d}",  # Los Angeles
    "+1303555{:04d}",  # Denver
    "+1312555{:04d}",  # Chicago
    "+1212555{:04d}",  # New York
    "+442079460{:03d}",  # London
    "+4930555{:05d}",  # Berlin
    "+9714555{:04d}",  # Dubai
    "+9122555{:05d}",  # Mumbai
    "+656555{:04d}",  # Singapore
    "+8135555{:04d}",  # Tokyo
    "+6125555{:04d}",  # Sydney
)


def _minutes_from_early_afternoon(zones: list[str], now: datetime) -> int:
    worst = 0
    for zone in zones:
        local = now.astimezone(zone_info(zone))
        worst = max(worst, abs(local.hour * 60 + local.minute - 14 * 60))
    return worst


def best_number_plan(now: datetime) -> tuple[str, str]:
    """The number plan (and its zone) where it is closest to 14:00 now."""
    scored = []
    for plan in NUMBER_PLANS:
        zones = candidate_zones(plan.format(1), None)
        if zones:
            scored.append((_minutes_from_early_afternoon(zones, now), plan, zones[0]))
    _, plan, zone = min(scored)
    return plan, zone


def prepare_demo_queue(campaign: Campaign, *, now: datetime) -> FillResult:
    """Open the demo campaign's calling window every day and move its contacts into working hours."""
    campaign.calling_days = list(range(7))
    campaign.calling_window_start = time(8, 0)
    campaign.calling_window_end = time(21, 0)
    plan, zone = best_number_plan(now)
    contacts = db.session.scalars(
        select(Contact)
        .join(Enrollment, Enrollment.contact_id == Contact.id)
        .where(Enrollment.campaign_id == campaign.id, Enrollment.status == EnrollmentStatus.ACTIVE)
        .order_by(Contact.id)
    ).all()
    for number, contact in enumerate(contacts, start=100):
        contact.phone = plan.format(number % 1000)
        contact.timezone = zone
    db.session.flush()
    return fill_campaign(campaign, now=now)
