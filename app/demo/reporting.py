"""Demo activity that fills every report: the campaigns played forward (invitations sent, opened and
answered; calls made, connected and requalified), monthly exchange rates and the agreed targets.

Everything is dated from `now` and drawn from the seed, so the same seed and day give the same data.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from app.auth.models import User
from app.crm.deals import lost_deal
from app.crm.models import Opportunity
from app.extensions import db
from app.messaging.models import OutboundMessage
from app.money.service import set_rate
from app.pipeline.calls import evaluate_calls
from app.pipeline.models import Requalification, RequalificationStatus
from app.pipeline.recycling import WINBACK_ID, link_recycled
from app.reports.filters import month_starts
from app.reports.targets import set_funnel_targets
from campaigns.calls.clocks import allowed_callback_time
from campaigns.calls.dispositions import record_disposition
from campaigns.calls.models import CallAttempt, CallTask, Disposition, TaskStatus
from campaigns.calls.script import complete_script, save_script
from campaigns.models import Campaign, CampaignKind, CampaignStatus, Enrollment
from surveys.demo import answer_invitations, phone_answers
from surveys.models import Invitation

# What one unit was worth in dollars, around which each month's rate moves a little.
RATE_BASES = {"EUR": Decimal("1.08"), "GBP": Decimal("1.27")}
RATE_MONTHS = 26
CALLS_OVER_DAYS = 7  # the demo caller's calls: today and the six days before
CALLBACK_AFTER_HOURS = 4
CALLED_TASKS = 18  # of the demo call campaign's queue; the rest stays for the demo caller to call
CALL_FORMS = (
    {
        "what_changed": "Their new vendor missed the go-live date",
        "budget": "Approved for Q1",
        "timeline": "Q1",
    },
    {"what_changed": "Contract with the competitor ends in March", "timeline": "March"},
    {"what_changed": "New head of sales wants to compare again", "decision_maker": "VP Sales"},
)
# The outcome of each called task, in turn: (first try, or None; the last call's disposition).
CALL_PLAN = (
    (None, Disposition.COMPLETED),
    (Disposition.NO_ANSWER, Disposition.REQUALIFIED),
    (None, Disposition.NOT_INTERESTED),
    (Disposition.BUSY, Disposition.COMPLETED),
    (Disposition.VOICEMAIL, Disposition.CALLBACK),
    (None, Disposition.REQUALIFIED),
)


def _active_campaign(kind: CampaignKind) -> Campaign | None:
    return db.session.scalar(
        select(Campaign)
        .where(Campaign.kind == kind, Campaign.status == CampaignStatus.ACTIVE)
        .order_by(Campaign.id)
        .limit(1)
    )


def play_survey_campaigns(*, seed: int, now: datetime) -> int:
    """Every active survey campaign (by email, by SMS) played forward; the responses completed."""
    campaigns = db.session.scalars(
        select(Campaign)
        .where(Campaign.kind == CampaignKind.SURVEY, Campaign.status == CampaignStatus.ACTIVE)
        .order_by(Campaign.id)
    ).all()
    return sum(
        play_survey_campaign(campaign, seed=seed + index, now=now) for index, campaign in enumerate(campaigns)
    )


def play_survey_campaign(campaign: Campaign, *, seed: int, now: datetime) -> int:
    """The survey campaign's invitations went out over the last three weeks; some were answered."""
    rows = db.session.execute(
        select(Enrollment, Invitation)
        .join(Invitation, Invitation.id == Enrollment.invitation_id)
        .where(Enrollment.campaign_id == campaign.id)
        .order_by(Enrollment.id)
    ).all()
    if not rows:
        return 0
    rng = random.Random(seed + 1)  # noqa: S311 (demo data, not secrets)
    invitations = []
    for index, (enrollment, invitation) in enumerate(rows):
        sent = now - timedelta(days=2 + (index * 7) % 20, hours=index % 9)
        enrollment.enrolled_at = sent - timedelta(minutes=5)
        invitation.sent_at = invitation.last_sent_at = sent
        invitations.append(invitation)
    # The worker delivered them when they went out.
    sent_at = {f"invitation:{invitation.id}:invitation:0": invitation.sent_at for invitation in invitations}
    for message in db.session.scalars(
        select(OutboundMessage).where(OutboundMessage.idempotency_key.in_(sent_at))
    ):
        when = sent_at[message.idempotency_key]
        message.created_at = message.next_attempt_at = when
        message.claim("demo", now=when)
        message.mark_sent(None, now=when + timedelta(minutes=1))
    db.session.flush()
    completed, _, _ = answer_invitations(campaign.survey_version, invitations, rng, now=now)
    db.session.flush()
    return completed


def _pressed_call(task: CallTask, caller: User, when: datetime) -> None:
    """The caller took the task from the queue and pressed Call at `when` (history: no checks to replay)."""
    task.status = TaskStatus.LEASED
    task.leased_by_id = caller.id
    task.leased_at = when
    task.lease_expires_at = when + timedelta(minutes=15)
    task.attempts += 1
    db.session.add(
        CallAttempt(
            task_id=task.id,
            campaign_id=task.campaign_id,
            contact_id=task.contact_id,
            caller_id=caller.id,
            phone=task.contact.phone or "",
            started_at=when,
            response_id=task.response_id,
        )
    )
    db.session.flush()


def _call(task: CallTask, caller: User, disposition: Disposition, when: datetime, rng: random.Random, form):
    _pressed_call(task, caller, when)
    attempt = record_disposition(
        task,
        caller,
        disposition,
        now=when,
        lease_seconds=900,
        requalification=form if disposition is Disposition.REQUALIFIED else None,
        notes="Demo call",
        # "Call me back in a few hours": the caller's own callback, due later today or tomorrow.
        callback_at=allowed_callback_time(task, when + timedelta(hours=CALLBACK_AFTER_HOURS))
        if disposition is Disposition.CALLBACK
        else None,
    )
    if disposition not in (Disposition.NO_ANSWER, Disposition.BUSY):
        talk = rng.randint(60, 720) if disposition is not Disposition.VOICEMAIL else rng.randint(20, 40)
        attempt.answered_at = when + timedelta(seconds=15)
        attempt.duration_seconds = talk
        attempt.ended_at = when + timedelta(seconds=15 + talk)
    return attempt


def _take_answers(task: CallTask, caller: User, when: datetime, rng: random.Random, *, open_to_talk: bool):
    """The caller reads the campaign's survey as the script and types the answers: a phone response."""
    version = task.campaign.survey_version
    if version is None:
        return
    done = when + timedelta(minutes=2)  # a couple of minutes into the call that connected at `when`
    save_script(task, caller, phone_answers(version, rng, now=done, open_to_talk=open_to_talk), now=done)
    complete_script(task, now=done)


def play_call_campaign(*, seed: int, now: datetime) -> int:
    """The demo caller worked part of the queue over the last week, today included."""
    campaign = _active_campaign(CampaignKind.CALL)
    if campaign is None or not campaign.callers:
        return 0
    caller = campaign.callers[0]
    tasks = db.session.scalars(
        select(CallTask)
        .where(CallTask.campaign_id == campaign.id, CallTask.status == TaskStatus.READY)
        .order_by(CallTask.id)
        .limit(CALLED_TASKS)
    ).all()
    # The campaign enrolled its contacts before the first of these calls (about a week ago).
    for index, enrollment in enumerate(
        db.session.scalars(
            select(Enrollment).where(Enrollment.campaign_id == campaign.id).order_by(Enrollment.id)
        )
    ):
        enrollment.enrolled_at = now - timedelta(days=CALLS_OVER_DAYS + 2, hours=index % 12)
    rng = random.Random(seed + 2)  # noqa: S311 (demo data, not secrets)
    calls = 0
    for index, task in enumerate(tasks):
        first, last = CALL_PLAN[index % len(CALL_PLAN)]
        # One round of the plan today, the rest over the last six days; minutes apart, all before now.
        days = 0 if index < len(CALL_PLAN) else 1 + index % (CALLS_OVER_DAYS - 1)
        when = now - timedelta(days=days, minutes=20 + 7 * index)
        if days == 0:  # still today (UTC), even just after midnight
            midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
            when = max(when, min(midnight + timedelta(minutes=index + 1), now))
        form = CALL_FORMS[index % len(CALL_FORMS)]
        if last is Disposition.CALLBACK and days:  # only today's callbacks are still ahead of the caller
            last = Disposition.NO_ANSWER
        if first is not None:
            _call(task, caller, first, when - timedelta(days=1), rng, form)
            calls += 1
            if task.status is not TaskStatus.READY:
                continue
        if last in (Disposition.COMPLETED, Disposition.REQUALIFIED):
            _take_answers(task, caller, when, rng, open_to_talk=last is Disposition.REQUALIFIED)
        _call(task, caller, last, when, rng, form)
        calls += 1
    db.session.flush()
    evaluate_calls(now=now)  # the requalified calls, if the pipeline did not hear them
    return calls


def load_exchange_rates(*, today: date, now: datetime) -> date | None:
    """Monthly EUR and GBP rates for every month deals close in, but one: the latest past month with a GBP
    loss has no GBP rate, so reports show what is "not converted". Returns that month."""
    first_month = today.replace(day=1)
    missing = db.session.scalar(
        select(func.max(Opportunity.close_date)).where(
            Opportunity.currency == "GBP",
            lost_deal(),
            Opportunity.close_date < first_month,
        )
    )
    missing_month = missing.replace(day=1) if missing else None
    start = date(first_month.year - 3, first_month.month, 1)
    for index, month in enumerate(month_starts(start, today)):
        for offset, (currency, base) in enumerate(RATE_BASES.items()):
            if currency == "GBP" and month == missing_month:
                continue
            wobble = Decimal((index * 7 + offset * 3) % 11 - 5) / Decimal(250)  # within ±2 %
            set_rate(
                month=month,
                currency=currency,
                rate=(base * (1 + wobble)).quantize(Decimal("0.0001")),
                now=now,
            )
    return missing_month


def add_recycled_loss(*, now: datetime) -> None:
    """One accepted, exported requalification came back from the CRM lost: the win rate is not 100 %."""
    exported = db.session.scalars(
        select(Requalification)
        .where(
            Requalification.status == RequalificationStatus.ACCEPTED,
            Requalification.exported_at.is_not(None),
            Requalification.recycled_opportunity_id.is_(None),
        )
        .order_by(Requalification.id)
    ).first()
    if exported is None:
        return
    original = exported.opportunity
    db.session.add(
        Opportunity(
            crm_source=original.crm_source if original else "salesforce",
            crm_id=f"DEMO-RECYCLED-{exported.id}",
            account_id=exported.account_id,
            name=f"{exported.account.name} – recycled",
            amount=exported.expected_amount,
            currency=original.currency if original else "USD",
            stage="Closed Lost",
            is_closed=True,
            is_won=False,
            close_date=(now - timedelta(days=1)).date(),
            owner=exported.owner,
            crm_loss_reason="Timing",
            raw={WINBACK_ID: exported.winback_id},
        )
    )
    db.session.flush()
    link_recycled(now=now)


def give_the_team_its_recycled_deals() -> None:
    """The demo sales manager's team owned the deals that came back, so their home shows them."""
    from app.pipeline.models import SalesTeam

    team = db.session.scalar(select(SalesTeam).order_by(SalesTeam.manager_id).limit(1))
    if team is None:
        return
    owners = db.session.scalars(
        select(Opportunity.owner)
        .join(Requalification, Requalification.opportunity_id == Opportunity.id)
        .where(Requalification.recycled_opportunity_id.is_not(None), Opportunity.owner.is_not(None))
        .order_by(Opportunity.owner)
        .distinct()
    ).all()
    team.owners = sorted(set(team.owners or []) | set(owners))
    db.session.flush()


def set_demo_targets(*, now: datetime) -> None:
    """The targets sales and marketing agreed on for the demo."""
    set_funnel_targets(
        requalified=30,
        accepted=12,
        recovered_revenue=Decimal(25_000),
        response_rate=Decimal(30),
        acceptance_rate=Decimal(50),
        win_rate=Decimal(35),
        by=None,
        now=now,
    )
