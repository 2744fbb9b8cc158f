"""Coding answers: option codings when a response completes, a person's codes, bulk apply, keyword rules,
the workbench queue, and the customer-stated reasons of each opportunity. Services flush; callers commit."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, exists, func, or_, select

from app.auth.models import User
from app.codebook.models import ReasonCode
from app.coding.marks import DONE_STATUSES, codable_answers, oldest_skipped_first, skipped_by
from app.coding.models import (
    CoderKind,
    Coding,
    CodingRule,
    CodingStatus,
    DoubleCodingAssignment,
    OpportunityReason,
)
from app.coding.theme_marks import mark_first_in_theme
from app.crm.models import Opportunity
from app.errors import ValidationError
from app.extensions import db
from campaigns.calls.models import CallAttempt
from campaigns.models import Enrollment
from surveys.models import Answer, Question, QuestionKind, Response, ResponseChannel

FINAL = "final"  # the coder key of a lead's resolution of a disagreement


def person_key(user: User | int) -> str:
    return f"user:{user if isinstance(user, int) else user.id}"


# --- automatic coding of choice answers ------------------------------------------------------------


def code_choice_answers(response: Response, *, now: datetime) -> int:
    """Code every chosen option that maps to a reason code (source option, confirmed); idempotent."""
    added = 0
    for answer in response.answers:
        question = answer.question
        if not question.kind.has_options or not answer.choices:
            continue
        existing = {
            c.reason_code_id
            for c in db.session.scalars(
                select(Coding).where(
                    Coding.answer_id == answer.id, Coding.coder_key == CoderKind.OPTION.value
                )
            )
        }
        for value in answer.choices:
            option = question.option_by_value(str(value))
            if option is None or option.reason_code_id is None or option.reason_code_id in existing:
                continue
            db.session.add(
                Coding(
                    answer_id=answer.id,
                    reason_code_id=option.reason_code_id,
                    source=CoderKind.OPTION,
                    coder_key=CoderKind.OPTION.value,
                    confidence=1.0,
                    status=CodingStatus.CONFIRMED,
                    created_at=now,
                    decided_at=now,
                )
            )
            existing.add(option.reason_code_id)
            added += 1
    db.session.flush()
    if response.opportunity_id is not None:
        refresh_opportunity_reasons(response.opportunity_id, now=now)
    return added


def backfill_choice_codings(*, now: datetime) -> int:
    """Code the choice answers of every finished response (for responses older than the coding feature)."""
    added = 0
    responses = db.session.scalars(select(Response).where(Response.status.in_(DONE_STATUSES)))
    for response in responses:
        added += code_choice_answers(response, now=now)
    return added


# --- a person's codes ------------------------------------------------------------------------------


def _codes(code_ids: Iterable[int]) -> list[ReasonCode]:
    ids = sorted(set(code_ids))
    codes = list(db.session.scalars(select(ReasonCode).where(ReasonCode.id.in_(ids)))) if ids else []
    if len(codes) != len(ids):
        raise ValidationError("One of those codes does not exist", field="codes")
    retired = [c.code for c in codes if not c.active]
    if retired:
        raise ValidationError(f"Retired codes cannot be applied: {', '.join(retired)}", field="codes")
    return codes


@dataclass(frozen=True)
class CodeChoice:
    code_id: int
    span_start: int | None = None
    span_end: int | None = None


def set_person_codes(
    answer: Answer,
    coder: User,
    choices: Sequence[CodeChoice],
    *,
    now: datetime,
    memo: str | None = None,
    coder_key: str | None = None,
) -> list[Coding]:
    """Make `choices` this coder's confirmed codes of the answer (others of theirs are rejected); the
    model's and rules' suggestions for the chosen codes are confirmed, the others rejected."""
    key = coder_key or person_key(coder)
    codes = _codes(choice.code_id for choice in choices)
    if not codes:
        raise ValidationError("Pick at least one code", field="codes")
    text_length = len(answer.text or "")
    for choice in choices:
        if choice.span_start is None and choice.span_end is None:
            continue
        start, end = choice.span_start, choice.span_end
        if start is None or end is None or not 0 <= start < end <= text_length:
            raise ValidationError("The marked span is not inside the answer's text", field="span")
    chosen = {choice.code_id: choice for choice in choices}
    mine = {
        c.reason_code_id: c
        for c in db.session.scalars(
            select(Coding).where(Coding.answer_id == answer.id, Coding.coder_key == key)
        )
    }
    result = []
    for code in codes:
        coding = mine.get(code.id)
        if coding is None:
            coding = Coding(
                answer_id=answer.id,
                reason_code_id=code.id,
                source=CoderKind.PERSON,
                coder_id=coder.id,
                coder_key=key,
                created_at=now,
            )
            db.session.add(coding)
        coding.status = CodingStatus.CONFIRMED
        coding.decided_at = now
        coding.span_start, coding.span_end = chosen[code.id].span_start, chosen[code.id].span_end
        coding.memo = (memo or "").strip() or None
        result.append(coding)
    for code_id, coding in mine.items():
        if code_id not in chosen:
            coding.status = CodingStatus.REJECTED
            coding.decided_at = now
    for suggestion in db.session.scalars(
        select(Coding).where(
            Coding.answer_id == answer.id,
            Coding.source.in_((CoderKind.MODEL, CoderKind.RULE)),
            Coding.status == CodingStatus.SUGGESTED,
        )
    ):
        suggestion.status = (
            CodingStatus.CONFIRMED if suggestion.reason_code_id in chosen else CodingStatus.REJECTED
        )
        suggestion.decided_at = now
    assignment = db.session.scalar(
        select(DoubleCodingAssignment).where(
            DoubleCodingAssignment.answer_id == answer.id, DoubleCodingAssignment.coder_id == coder.id
        )
    )
    if assignment is not None and assignment.done_at is None:
        assignment.done_at = now
    db.session.flush()
    opportunity_id = answer.response.opportunity_id
    if opportunity_id is not None:
        refresh_opportunity_reasons(opportunity_id, now=now)
    return result


# --- keyword rules ------------------------------------------------------------------------------------


def add_rule(code: ReasonCode, phrase: str) -> CodingRule:
    folded = " ".join(phrase.lower().split())
    if len(folded) < 2:
        raise ValidationError("A rule needs a word or phrase of at least two letters", field="phrase")
    if db.session.scalar(
        select(CodingRule.id).where(CodingRule.reason_code_id == code.id, CodingRule.phrase == folded)
    ):
        raise ValidationError(f"{code.code} already has the rule '{folded}'", field="phrase")
    rule = CodingRule(reason_code_id=code.id, phrase=folded)
    db.session.add(rule)
    db.session.flush()
    return rule


def rule_pattern(phrase: str) -> re.Pattern[str]:
    words = [re.escape(word) for word in phrase.split()]
    return re.compile(r"\b" + r"\s+".join(words) + r"\b", re.IGNORECASE)


def any_rule_pattern(phrases: Iterable[str]) -> re.Pattern[str]:
    """One pattern that matches wherever one of the phrases' `rule_pattern`s does.

    The phrases' pieces (letters, the spaces between words, the closing word boundary) are merged
    into a tree, so phrases that begin alike share their beginning: at each place in a text the
    engine tries each distinct first letter once, then follows only the phrases that begin there."""
    tree: dict[str, dict] = {}
    for phrase in phrases:
        node = tree
        for n, word in enumerate(phrase.split()):
            for piece in ([r"\s+"] if n else []) + [re.escape(letter) for letter in word]:
                node = node.setdefault(piece, {})
        node.setdefault(r"\b", {})

    def alternation(node: dict[str, dict]) -> str:
        branches = [piece + alternation(child) for piece, child in node.items()]
        if len(branches) == 1:
            return branches[0]
        return "(?:" + "|".join(branches) + ")" if branches else ""

    return re.compile(r"\b" + alternation(tree), re.IGNORECASE)


# --- the workbench queue -----------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueFilter:
    survey_id: int | None = None
    question_id: int | None = None
    campaign_id: int | None = None
    competitor_id: int | None = None
    channel: ResponseChannel | None = None

    def as_args(self) -> dict[str, object]:
        args = {
            "survey": self.survey_id,
            "question": self.question_id,
            "campaign": self.campaign_id,
            "competitor": self.competitor_id,
            "channel": self.channel.value if self.channel else None,
        }
        return {k: v for k, v in args.items() if v is not None}


def _coded_clause(coder_id: int):
    """An answer is off the queue once a person, rule or model confirmed a code for it (assigned
    double-coding answers: once this coder is done)."""
    confirmed = exists().where(
        Coding.answer_id == Answer.id,
        Coding.status == CodingStatus.CONFIRMED,
        Coding.source != CoderKind.OPTION,
    )
    assigned = exists().where(DoubleCodingAssignment.answer_id == Answer.id)
    mine_open = exists().where(
        DoubleCodingAssignment.answer_id == Answer.id,
        DoubleCodingAssignment.coder_id == coder_id,
        DoubleCodingAssignment.done_at.is_(None),
    )
    return or_(mine_open, and_(~assigned, ~confirmed))


def queue_query(filters: QueueFilter, *, coder_id: int):
    """Codable answers (see `codable_answers`) this coder still has to code, in id order."""
    from surveys.models import SurveyVersion

    query = codable_answers().where(_coded_clause(coder_id))
    if filters.question_id is not None:
        query = query.where(Answer.question_id == filters.question_id)
    if filters.survey_id is not None:
        query = query.join(SurveyVersion, SurveyVersion.id == Response.version_id).where(
            SurveyVersion.survey_id == filters.survey_id
        )
    if filters.channel is not None:
        query = query.where(Response.channel == filters.channel)
    if filters.competitor_id is not None:
        query = query.join(Opportunity, Opportunity.id == Response.opportunity_id).where(
            Opportunity.competitor_id == filters.competitor_id
        )
    if filters.campaign_id is not None:
        query = query.where(
            exists().where(
                Enrollment.invitation_id == Response.invitation_id,
                Enrollment.campaign_id == filters.campaign_id,
            )
        )
    return query


def next_answer_id(filters: QueueFilter, *, coder_id: int, after: int | None = None) -> int | None:
    """The next answer to code after `after` (wrapping round to the start); the answers this coder
    skipped come last, the one skipped longest ago first."""
    query = queue_query(filters, coder_id=coder_id)
    fresh = query.where(~skipped_by(coder_id))
    if after is not None:
        found = db.session.scalar(fresh.where(Answer.id > after).order_by(Answer.id).limit(1))
        if found is not None:
            return found
    found = db.session.scalar(fresh.order_by(Answer.id).limit(1))
    if found is not None:
        return found
    return db.session.scalar(oldest_skipped_first(query, coder_id).limit(1))


def queue_size(filters: QueueFilter, *, coder_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(queue_query(filters, coder_id=coder_id).subquery())
    )


def hidden_coders(answer: Answer, viewer_id: int) -> bool:
    """True while the answer is double coded and not every coder is done: codes stay hidden."""
    return bool(
        db.session.scalar(
            select(func.count()).where(
                DoubleCodingAssignment.answer_id == answer.id, DoubleCodingAssignment.done_at.is_(None)
            )
        )
    )


def call_notes(response: Response) -> list[CallAttempt]:
    """The calls to this response's contact that left notes, oldest first: context for the coder."""
    if response.contact_id is None and response.id is None:
        return []
    return list(
        db.session.scalars(
            select(CallAttempt)
            .where(
                or_(CallAttempt.response_id == response.id, CallAttempt.contact_id == response.contact_id),
                CallAttempt.notes.is_not(None),
                CallAttempt.notes != "",
            )
            .order_by(CallAttempt.started_at)
        )
    )


def visible_codings(answer: Answer, viewer: User) -> list[Coding]:
    """The answer's confirmed codings the viewer may see (others' are hidden during double coding)."""
    codings = list(
        db.session.scalars(
            select(Coding).where(Coding.answer_id == answer.id, Coding.status == CodingStatus.CONFIRMED)
        )
    )
    if hidden_coders(answer, viewer.id):
        codings = [c for c in codings if c.coder_key in (person_key(viewer), CoderKind.OPTION.value)]
    return codings


# --- bulk apply -------------------------------------------------------------------------------------


def bulk_matches(
    search: str, filters: QueueFilter, *, coder_id: int, limit: int | None = None
) -> list[Answer]:
    """Uncoded answers whose text contains the search (case-insensitive), as bulk apply would touch."""
    needle = search.strip()
    if len(needle) < 2:
        raise ValidationError("Search for at least two letters", field="search")
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    ids = queue_query(filters, coder_id=coder_id).where(
        func.lower(Answer.text).like(f"%{escaped.lower()}%", escape="\\")
    )
    query = select(Answer).where(Answer.id.in_(ids)).order_by(Answer.id)
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query))


def bulk_apply(search: str, code: ReasonCode, filters: QueueFilter, *, coder: User, now: datetime) -> int:
    """Code every matching uncoded answer with `code` as this coder; returns how many."""
    answers = bulk_matches(search, filters, coder_id=coder.id)
    for answer in answers:
        set_person_codes(answer, coder, [CodeChoice(code.id)], now=now)
    return len(answers)


# --- opportunity reasons ------------------------------------------------------------------------------


def _answer_code_sets(opportunity_id: int) -> list[tuple[QuestionKind, set[int]]]:
    rows = db.session.execute(
        select(Coding.answer_id, Coding.reason_code_id, Coding.coder_key, Question.kind)
        .join(Answer, Answer.id == Coding.answer_id)
        .join(Response, Response.id == Answer.response_id)
        .join(Question, Question.id == Answer.question_id)
        .where(Response.opportunity_id == opportunity_id, Coding.status == CodingStatus.CONFIRMED)
    ).all()
    per_answer: dict[int, dict[str, set[int]]] = {}
    kinds: dict[int, QuestionKind] = {}
    for answer_id, code_id, key, kind in rows:
        per_answer.setdefault(answer_id, {}).setdefault(key, set()).add(code_id)
        kinds[answer_id] = kind
    result = []
    for answer_id, by_key in per_answer.items():
        # A lead's resolution replaces what the double coders said.
        codes = by_key[FINAL] if FINAL in by_key else set().union(*by_key.values())
        result.append((kinds[answer_id], codes))
    return result


def refresh_opportunity_reasons(opportunity_id: int, *, now: datetime) -> list[OpportunityReason]:
    """Recompute the customer-stated reasons (each code once, with how many answers carry it), the
    primary one (the main-reason (single choice) answer's code first, then the most mentioned) and the
    first of each theme (mark_first_in_theme)."""
    mentions: Counter[int] = Counter()
    main: Counter[int] = Counter()
    for kind, codes in _answer_code_sets(opportunity_id):
        for code_id in codes:
            mentions[code_id] += 1
            if kind is QuestionKind.SINGLE:
                main[code_id] += 1
    db.session.execute(delete(OpportunityReason).where(OpportunityReason.opportunity_id == opportunity_id))
    if not mentions:
        db.session.flush()
        return []
    code_names = dict(
        db.session.execute(select(ReasonCode.id, ReasonCode.code).where(ReasonCode.id.in_(mentions))).all()
    )
    primary = min(mentions, key=lambda c: (-main[c], -mentions[c], code_names[c]))
    reasons = [
        OpportunityReason(
            opportunity_id=opportunity_id,
            reason_code_id=code_id,
            mentions=count,
            is_primary=code_id == primary,
            updated_at=now,
        )
        for code_id, count in mentions.items()
    ]
    db.session.add_all(reasons)
    db.session.flush()
    mark_first_in_theme([opportunity_id])
    for reason in reasons:
        db.session.expire(reason, ["first_in_theme"])
    return reasons


def opportunity_reasons(opportunity_id: int) -> list[OpportunityReason]:
    return list(
        db.session.scalars(
            select(OpportunityReason)
            .where(OpportunityReason.opportunity_id == opportunity_id)
            .order_by(OpportunityReason.is_primary.desc(), OpportunityReason.mentions.desc())
        )
    )
