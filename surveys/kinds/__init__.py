"""Question kinds as strategies: each kind parses, validates, renders, summarises and exports its answers.

Answering (`surveys.responding`), the survey pages (`surveys.view_helpers`) and the results
(`surveys.results`) ask a question's kind; none of them branches on it. A new kind is one class here
(and its member of `QuestionKind`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from surveys.kinds.base import (
    OTHER,
    FormData,
    InvalidAnswer,
    Kind,
    QuestionSummary,
    Shown,
    Value,
    value_of,
)
from surveys.kinds.choices import MultipleChoice, Nps, Rating, SingleChoice, YesNo
from surveys.kinds.fields import DATE_HINT, DateKind, LongText, ShortText
from surveys.models import QuestionKind

if TYPE_CHECKING:
    from surveys.models import Question

KINDS: dict[QuestionKind, Kind] = {
    strategy.kind: strategy
    for strategy in (
        SingleChoice(),
        MultipleChoice(),
        Rating(),
        Nps(),
        YesNo(),
        ShortText(),
        LongText(),
        DateKind(),
    )
}


def kind_of(question: Question) -> Kind:
    """The strategy of a question's kind (a Question or its frozen copy)."""
    return KINDS[question.kind]


__all__ = [
    "DATE_HINT",
    "KINDS",
    "OTHER",
    "FormData",
    "InvalidAnswer",
    "Kind",
    "QuestionSummary",
    "Shown",
    "Value",
    "kind_of",
    "value_of",
]
