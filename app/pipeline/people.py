"""The people behind a requalification: whom to call (the person who answered or was called, else the
deal's primary contact), who took a phone interview, who else the evidence names, and the deal's owner
as a Winback user where one matches."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select

from app.auth.models import User
from app.crm.models import Contact
from app.extensions import db
from app.pipeline.models import Requalification, RequalificationEvidence, RequalificationSource
from surveys.kinds.base import OTHER
from surveys.models import Answer, Response, ResponseChannel
from surveys.results import answer_text

# "CFO Dana Reyes", "VP Sales Ann Lee", "Head of Operations Li Wei": a title, then a capitalised name.
_TITLE = (
    r"(?:C[EFTOIRM]O|Chief [A-Z][a-z]+ Officer|VP(?: of)? [A-Z][a-z]+|Vice President(?: of)? [A-Z][a-z]+"
    r"|Head of [A-Z][a-z]+|Director of [A-Z][a-z]+|(?:IT|[A-Z][a-z]+) Director|[A-Z][a-z]+ Manager)"
)
_NAME = r"[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?(?: [A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?)+"
_MENTION = re.compile(rf"\b(?P<title>{_TITLE})[,:]? (?P<name>{_NAME})")


@dataclass
class Voice:
    """The person behind one piece of evidence, and how it was taken."""

    label: str  # "Survey response", "Phone interview by Sam Caller", "Call by Sam Caller"
    contact: Contact | None = None
    caller: User | None = None
    answers: list[tuple[str, str]] = field(default_factory=list)  # (question, answer as the customer gave it)


@dataclass(frozen=True)
class Mention:
    """Someone the evidence names: a title and a name, the account's contact when one matches."""

    name: str
    title: str
    contact: Contact | None = None


def _shown(value: object) -> str:
    """A stored answer as a person reads it: never the form's internal value for "Other"."""
    text = str(value or "")
    return "Other" if text == OTHER else text.replace(OTHER, "Other")


def _stored_answers(evidence: RequalificationEvidence) -> list[tuple[str, str]]:
    return [(_shown(item.get("question")), _shown(item.get("answer"))) for item in evidence.details or []]


def _response_answers(response: Response) -> list[tuple[str, str]]:
    answers = sorted(response.answers, key=lambda a: a.question.position)
    shown = [(a.question.text, _shown(answer_text(a.question, a))) for a in answers]
    return [(question, answer) for question, answer in shown if answer]


def voices(requalification: Requalification) -> dict[int, Voice]:
    """{evidence id: the person who answered or was called, the caller, the answers as given}."""
    from sqlalchemy.orm import selectinload

    from campaigns.calls.models import CallAttempt

    evidence = requalification.evidence
    response_ids = [e.response_id for e in evidence if e.response_id]
    attempt_ids = [e.call_attempt_id for e in evidence if e.call_attempt_id]
    responses = {
        r.id: r
        for r in db.session.scalars(
            select(Response)
            .where(Response.id.in_(response_ids))
            .options(selectinload(Response.answers).selectinload(Answer.question))
        )
    }
    attempts = {
        a.id: a for a in db.session.scalars(select(CallAttempt).where(CallAttempt.id.in_(attempt_ids)))
    }
    users = _by_id(User, [r.caller_id for r in responses.values()] + [a.caller_id for a in attempts.values()])
    contacts = _by_id(
        Contact, [r.contact_id for r in responses.values()] + [a.contact_id for a in attempts.values()]
    )
    found = {}
    for item in evidence:
        if item.source is RequalificationSource.CALL:
            attempt = attempts.get(item.call_attempt_id)
            caller = users.get(attempt.caller_id) if attempt else None
            contact = contacts.get(attempt.contact_id) if attempt else None
            label = f"Call by {caller.name}" if caller else "Call"
            found[item.id] = Voice(label, _reachable(contact), caller, _stored_answers(item))
            continue
        response = responses.get(item.response_id)
        if response is None:
            found[item.id] = Voice("Survey response", answers=_stored_answers(item))
            continue
        caller = users.get(response.caller_id)
        if response.channel is ResponseChannel.PHONE:
            label = f"Phone interview by {caller.name}" if caller else "Phone interview"
        else:
            label = "Survey response"
        voice = Voice(
            label, _reachable(contacts.get(response.contact_id)), caller, _response_answers(response)
        )
        found[item.id] = voice
    return found


def _by_id(model, ids: Iterable[int | None]) -> dict:
    wanted = {i for i in ids if i}
    return (
        {row.id: row for row in db.session.scalars(select(model).where(model.id.in_(wanted)))}
        if wanted
        else {}
    )


def _reachable(contact: Contact | None) -> Contact | None:
    """An erased contact is nobody to call."""
    return contact if contact is not None and contact.erased_at is None else None


def mentions(requalification: Requalification, voices_found: dict[int, Voice]) -> list[Mention]:
    """The other people the evidence names ("CFO Dana Reyes"), matched to the account's contacts."""
    texts = [answer for voice in voices_found.values() for _question, answer in voice.answers]
    spoken = {voice.contact.id for voice in voices_found.values() if voice.contact is not None}
    known = {
        contact.full_name.lower(): contact
        for contact in db.session.scalars(
            select(Contact).where(
                Contact.account_id == requalification.account_id, Contact.erased_at.is_(None)
            )
        )
    }
    found: dict[str, Mention] = {}
    for text in texts:
        for match in _MENTION.finditer(text):
            name = match.group("name")
            found.setdefault(name.lower(), Mention(name, match.group("title"), known.get(name.lower())))
        lowered = text.lower()
        for full_name, contact in known.items():
            if full_name != "(no name)" and full_name in lowered and full_name not in found:
                found[full_name] = Mention(contact.full_name, contact.title or "", contact)
    return [m for m in found.values() if m.contact is None or m.contact.id not in spoken]


def contacts_to_call(requalifications: list[Requalification]) -> dict[int, Contact]:
    """{requalification id: whom to call}: the person of its newest evidence who can be reached, else its
    lost deal's primary contact. A few queries for a whole page of the queue."""
    from campaigns.calls.models import CallAttempt

    ids = [r.id for r in requalifications]
    if not ids:
        return {}
    evidence = db.session.execute(
        select(RequalificationEvidence.requalification_id, Response.contact_id, CallAttempt.contact_id)
        .outerjoin(Response, Response.id == RequalificationEvidence.response_id)
        .outerjoin(CallAttempt, CallAttempt.id == RequalificationEvidence.call_attempt_id)
        .where(RequalificationEvidence.requalification_id.in_(ids))
        .order_by(RequalificationEvidence.id.desc())
    ).all()
    candidates: dict[int, list[int]] = {i: [] for i in ids}
    for requalification_id, response_contact, call_contact in evidence:
        candidates[requalification_id] += [c for c in (call_contact, response_contact) if c]
    for requalification in requalifications:
        if requalification.opportunity is not None and requalification.opportunity.primary_contact_id:
            candidates[requalification.id].append(requalification.opportunity.primary_contact_id)
    contacts = _by_id(Contact, [c for found in candidates.values() for c in found])
    chosen = {}
    for requalification_id, found in candidates.items():
        reachable = [contacts[c] for c in found if _reachable(contacts.get(c)) is not None]
        if reachable:
            chosen[requalification_id] = reachable[0]
    return chosen


def owner_names() -> dict[str, str]:
    """{a deal owner as the CRM may write it (name or email, lower case): the Winback user's name}."""
    rows = db.session.execute(select(User.name, User.email).where(User.active.is_(True))).all()
    names: dict[str, str] = {}
    for name, email in rows:
        names.setdefault(name.strip().lower(), name)
        names.setdefault(email.strip().lower(), name)
    return names


def default_owner(requalification: Requalification, names: dict[str, str] | None = None) -> str | None:
    """Who takes the deal unless the manager says otherwise: its lost deal's owner, as the Winback user
    of that name or email where one exists."""
    opportunity = requalification.opportunity
    owner = (opportunity.owner or "").strip() if opportunity is not None else ""
    if not owner:
        return None
    names = owner_names() if names is None else names
    return names.get(owner.lower(), owner)


def owner_choices(crm_owners: list[str]) -> list[str]:
    """The owners a requalification can be given to: the CRM's owners, each also as its matching user."""
    names = owner_names()
    return sorted({*crm_owners, *(names.get(owner.strip().lower(), owner) for owner in crm_owners)})
