"""Score a completed survey response or a requalified call against a campaign's requalification rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from app.pipeline.models import RequalificationRule
from surveys.models import QuestionKind, Response, Signal
from surveys.results import answer_text

CALL_POINTS = 5  # a caller who hears the deal is back is the strongest signal there is
CALL_FIELD_POINTS = 1  # each of budget, timeline and decision maker the caller could fill in
CALL_SCORED_FIELDS = ("budget", "timeline", "decision_maker")
CALL_FIELD_LABELS = {
    "what_changed": "What changed",
    "budget": "Budget",
    "timeline": "Timeline",
    "decision_maker": "Decision maker",
    "next_step": "Next step",
}


@dataclass
class Score:
    points: int = 0
    reasons: list[str] = field(default_factory=list)
    details: list[dict[str, Any]] = field(default_factory=list)

    def add(self, points: int, reason: str) -> None:
        if points:
            self.points += points
            self.reasons.append(f"{reason} ({points:+d})")


def default_rule() -> RequalificationRule:
    """The rule of a campaign whose admin has not set one (the model's defaults)."""
    return RequalificationRule(
        enabled=True,
        min_score=3,
        open_to_talk_points=3,
        contract_end_months=6,
        contract_end_points=2,
        low_satisfaction_max=2,
        low_satisfaction_points=2,
    )


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def score_response(response: Response, rule: RequalificationRule, *, today: date) -> Score:
    """Weights of the chosen options, open to a conversation, contract end soon, unhappy with the vendor."""
    score = Score()
    answers = sorted(response.answers, key=lambda a: a.question.position)
    for answer in answers:
        question = answer.question
        text = answer_text(question, answer)
        if text:
            score.details.append({"question": question.text, "answer": text})
        if question.kind.has_options:
            for value in answer.choices or []:
                option = question.option_by_value(value)
                if option is not None and option.requalification_weight:
                    score.add(option.requalification_weight, f"Chose “{option.label}”")
        if question.signal is Signal.OPEN_TO_TALK and question.kind is QuestionKind.YES_NO:
            if "yes" in (answer.choices or []):
                score.add(rule.open_to_talk_points, "Open to a conversation")
        elif question.signal is Signal.CONTRACT_END and answer.date_value is not None:
            horizon = add_months(today, rule.contract_end_months)
            if today <= answer.date_value <= horizon:
                ends = answer.date_value.isoformat()
                reason = f"Contract ends {ends}, within {rule.contract_end_months} months"
                score.add(rule.contract_end_points, reason)
        elif (
            question.signal is Signal.VENDOR_SATISFACTION
            and answer.number is not None
            and answer.number <= rule.low_satisfaction_max
        ):
            score.add(rule.low_satisfaction_points, f"Unhappy with the chosen vendor (rated {answer.number})")
    return score


def qualifies(score: Score, rule: RequalificationRule) -> bool:
    return bool(rule.enabled) and score.points >= rule.min_score


def score_call(form: dict[str, Any], notes: str | None = None) -> Score:
    """A caller's requalified short form: what changed, budget, timeline, decision maker, next step."""
    score = Score()
    score.add(CALL_POINTS, "A caller marked the deal requalified")
    for name in CALL_SCORED_FIELDS:
        if (form.get(name) or "").strip():
            score.add(CALL_FIELD_POINTS, f"{CALL_FIELD_LABELS[name]} known")
    for name, label in CALL_FIELD_LABELS.items():
        value = (form.get(name) or "").strip()
        if value:
            score.details.append({"question": label, "answer": value})
    if notes:
        score.details.append({"question": "Call notes", "answer": notes})
    return score
