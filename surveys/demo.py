"""Demo data for surveys: the win/loss survey published, invitations and answers for lost deals."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from app.crm.models import Opportunity
from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.suppression import contact_suppression_reason
from surveys.builder import publish
from surveys.demo_translations import translate_win_loss
from surveys.invitations import (
    DEFAULT_TEMPLATES,
    create_invitation,
    invitation_link,
    queue_invitation_message,
)
from surveys.library import WIN_LOSS, create_from_template
from surveys.models import Invitation, SurveyVersion, VersionStatus
from surveys.responding import ResponseChannel, complete_response, move_to, save_page, start_response

REASONS = [
    "price",
    "product_fit",
    "ease_of_use",
    "integrations",
    "relationship",
    "timing",
    "budget",
    "support",
]
FACTORS = ["price", "product_fit", "integrations", "implementation", "support", "timing"]
VENDORS = ["Northwind", "Contoso", "Globex Data", "Initech", "Umbrella Metrics", ""]
COMMENTS = [
    "Your quote came two weeks after theirs.",
    "We needed the Salesforce integration out of the box.",
    "Honestly the demo was great, the price was not.",
    "Implementation timeline looked risky for our Q1 launch.",
    "",
]


@dataclass(frozen=True)
class SurveyDemo:
    invitations: int
    completed: int
    partial: int
    link: str


def _answer(version, response, rng: random.Random, *, now: datetime, finish: bool) -> None:
    q = [question.id for question in version.questions]
    first = MultiDict([(f"q{q[0]}", rng.choice(REASONS)), (f"q{q[1]}", rng.choice(VENDORS))])
    for factor in rng.sample(FACTORS, rng.randint(0, 3)):
        first.add(f"q{q[2]}", factor)
    save_page(response, 1, first, now=now)
    move_to(response, 2)
    if not finish and rng.random() < 0.5:
        return
    talk = "yes" if rng.random() < 0.35 else "no"
    second = {f"q{q[3]}": str(rng.randint(1, 5)), f"q{q[5]}": talk}
    if rng.random() < 0.6:
        second[f"q{q[4]}"] = (now.date() + timedelta(days=rng.randint(60, 540))).isoformat()
    save_page(response, 2, MultiDict(second), now=now)
    if not finish:
        return
    if talk == "yes":
        save_page(
            response,
            3,
            MultiDict({f"q{q[6]}": rng.choice(["within_month", "one_to_three_months", "six_months"])}),
            now=now,
        )
    save_page(response, 4, MultiDict({f"q{q[7]}": rng.choice(COMMENTS)}), now=now)
    complete_response(response, now=now)


def phone_answers(
    version: SurveyVersion, rng: random.Random, *, now: datetime, open_to_talk: bool
) -> MultiDict:
    """What a contact tells the caller who reads the survey as the call script: every page in one form."""
    q = [question.id for question in version.questions]
    form = MultiDict(
        [
            (f"q{q[0]}", rng.choice(REASONS)),
            (f"q{q[1]}", rng.choice(VENDORS[:-1])),
            (f"q{q[3]}", str(rng.randint(1, 3) if open_to_talk else rng.randint(2, 5))),
            (f"q{q[5]}", "yes" if open_to_talk else "no"),
            (f"q{q[7]}", rng.choice(COMMENTS)),
        ]
    )
    for factor in rng.sample(FACTORS, rng.randint(1, 2)):
        form.add(f"q{q[2]}", factor)
    if open_to_talk:
        form[f"q{q[4]}"] = (now.date() + timedelta(days=rng.randint(60, 300))).isoformat()
        form[f"q{q[6]}"] = rng.choice(["within_month", "one_to_three_months"])
    return form


def load_survey_demo(*, seed: int, now: datetime, limit: int = 60) -> SurveyDemo:
    """Publish the win/loss survey and invite the contacts of Closed Lost deals; some answered."""
    rng = random.Random(seed)  # noqa: S311 (demo answers, not secrets)
    survey = create_from_template(WIN_LOSS, now=now - timedelta(days=30))
    translate_win_loss(survey.versions[0], now=now - timedelta(days=30))  # German and French customers
    version = publish(survey.versions[0], now=now - timedelta(days=30))
    lost = db.session.scalars(
        select(Opportunity)
        .where(Opportunity.stage == "Closed Lost", Opportunity.primary_contact_id.is_not(None))
        .order_by(Opportunity.close_date.desc(), Opportunity.id)
    ).all()
    invited: list[Invitation] = []
    seen_contacts: set[int] = set()
    for opportunity in lost:
        contact = opportunity.primary_contact
        if contact.id in seen_contacts or contact_suppression_reason(contact, Channel.EMAIL) is not None:
            continue
        seen_contacts.add(contact.id)
        sent = now - timedelta(days=rng.randint(1, 20))
        invitation = create_invitation(
            version,
            contact,
            channel=Channel.EMAIL,
            now=sent,
            opportunity=opportunity,
            expires_at=now + timedelta(days=30),
        )
        queue_invitation_message(
            invitation, DEFAULT_TEMPLATES, kind="invitation", now=sent, sender="Winback demo"
        )
        invited.append(invitation)
        if len(invited) >= limit:
            break
    completed, partial, fresh = answer_invitations(version, invited, rng, now=now)
    db.session.flush()
    link_to = fresh or next(i for i in invited if i.completed_at is None)
    return SurveyDemo(
        invitations=len(invited), completed=completed, partial=partial, link=invitation_link(link_to)
    )


def answer_invitations(
    version: SurveyVersion, invited: list[Invitation], rng: random.Random, *, now: datetime
) -> tuple[int, int, Invitation | None]:
    """Have the invited answer like real people: about a third complete, a fifth stop halfway, some only
    open the link; (completed, partial, the first invitation left unopened). The first always completes."""
    completed = partial = 0
    fresh: Invitation | None = None
    for index, invitation in enumerate(invited):
        roll = rng.random()
        # Answered up to three days after the invitation, but never later than now.
        when = min(invitation.sent_at + timedelta(hours=rng.randint(1, 72)), now - timedelta(minutes=30))
        if roll < 0.35 or index == 0:
            invitation.opened_at = when
            response = start_response(version, channel=ResponseChannel.WEB, now=when, invitation=invitation)
            _answer(version, response, rng, now=when, finish=True)
            completed += 1
        elif roll < 0.55:
            invitation.opened_at = when
            response = start_response(version, channel=ResponseChannel.WEB, now=when, invitation=invitation)
            _answer(version, response, rng, now=when, finish=False)
            partial += 1
        elif roll < 0.65:
            invitation.opened_at = when
        elif fresh is None:
            fresh = invitation
    return completed, partial, fresh


def fresh_demo_link(*, now: datetime) -> str | None:
    """A new, unanswered link to the newest published survey, for a reachable contact of a lost deal.

    Nothing is sent: the link is for the person trying the demo, and every call makes another one,
    so a link used up by one try never blocks the next. None when no survey is published yet.
    """
    version = db.session.scalar(
        select(SurveyVersion)
        .where(SurveyVersion.status == VersionStatus.PUBLISHED)
        .order_by(SurveyVersion.published_at.desc(), SurveyVersion.id.desc())
        .limit(1)
    )
    if version is None:
        return None
    lost = db.session.scalars(
        select(Opportunity)
        .where(Opportunity.stage == "Closed Lost", Opportunity.primary_contact_id.is_not(None))
        .order_by(Opportunity.close_date.desc(), Opportunity.id)
        .limit(200)
    )
    opportunity = next(
        (o for o in lost if contact_suppression_reason(o.primary_contact, Channel.EMAIL) is None), None
    )
    if opportunity is None:
        return None
    invitation = create_invitation(
        version,
        opportunity.primary_contact,
        channel=Channel.EMAIL,
        now=now,
        opportunity=opportunity,
        expires_at=now + timedelta(days=30),
    )
    return invitation_link(invitation)
