"""Kinds answered by ticking: single choice, multiple choice, yes/no, rating 1–5 and NPS 0–10."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from flask_babel import gettext, lazy_gettext
from markupsafe import escape

from surveys.kinds.base import (
    OTHER,
    OTHER_BOX,
    OTHER_TEXT,
    FormData,
    Frame,
    InvalidAnswer,
    Kind,
    Piece,
    QuestionSummary,
    Shown,
    Slot,
    Value,
    read_one,
)
from surveys.models import QuestionKind

if TYPE_CHECKING:
    from surveys.models import Answer, Question

OTHER_TEXT_LIMIT = 300
YES_NO = (("yes", lazy_gettext("Yes")), ("no", lazy_gettext("No")))
RATING_LABELS = {
    1: lazy_gettext("Very poor"),
    2: lazy_gettext("Poor"),
    3: lazy_gettext("Fair"),
    4: lazy_gettext("Good"),
    5: lazy_gettext("Excellent"),
}


class ChoiceKind(Kind):
    """A fieldset of radio buttons or checkboxes, one per choice."""

    input_type: ClassVar[str] = "radio"
    group_class: ClassVar[str] = "choices"
    scale_help: ClassVar[Any] = None  # how to read the scale, under the question

    def shown_from_form(self, question: Question, form: Any) -> Shown:
        name = question.html_id
        return Shown(choices=list(form.getlist(name)), other=(form.getlist(f"{name}_other") or [""])[0])

    def layout(self, question: Question, frame: Frame) -> list[Piece]:
        qid = frame.qid
        out: list[Piece] = [
            f'<fieldset id="{qid}-group"{frame.describedby} class="{self.group_class}">'
            f"<legend>{frame.text}{frame.required}</legend>",
            frame.help_html,
        ]
        if self.scale_help:
            out.append(f'<small class="help" id="{qid}-scale">{self.scale_help}</small>')
        out.append(frame.error_html)
        for number, (value, label) in enumerate(self.choices(question), start=1):
            field_id = qid if number == 1 else f"{qid}-{number}"
            out += [
                f'<label for="{field_id}"><input type="{self.input_type}" id="{field_id}" name="{qid}" '
                f'value="{escape(value)}"',
                Slot(value),
                f"{frame.invalid}> {escape(label)}</label>",
            ]
        out += self.after_choices(question, frame)
        out.append("</fieldset>")
        return out

    def after_choices(self, question: Question, frame: Frame) -> list[Piece]:
        return []

    def summary_labels(self, question: Question) -> list[tuple[str, str]]:
        """(value, label) of each row of the summary's counts."""
        return self.choices(question)

    def summarise(self, question: Question, given: Sequence[Answer]) -> QuestionSummary:
        counter = Counter(choice for answer in given for choice in answer.choices)
        return QuestionSummary(
            question,
            answered=len(given),
            counts=[(label, counter[value]) for value, label in self.summary_labels(question)],
            texts=[answer.text for answer in given if answer.text],
        )


class PickOne(ChoiceKind):
    """One choice among known values."""

    refusal: ClassVar[Any]

    def allowed(self, question: Question) -> set[str]:
        return {value for value, _label in self.choices(question)}

    def parse(self, question: Question, form: FormData) -> Value:
        chosen = read_one(form, question.html_id)
        if not chosen:
            return Value()
        if chosen not in self.allowed(question):
            raise InvalidAnswer(str(self.refusal))
        return Value(choices=[chosen])


class Options(ChoiceKind):
    """The question's own options (the admin's), and "Other" when the question offers it."""

    def choices(self, question: Question) -> list[tuple[str, str]]:
        return [(option.value, option.label) for option in question.options]

    def summary_labels(self, question: Question) -> list[tuple[str, str]]:
        labels = self.choices(question)
        return [*labels, (OTHER, "Other")] if question.allow_other else labels

    def answer_text(self, question: Question, answer: Answer) -> str:
        """Option labels, not ids, and what "Other" said."""
        labels = {option.value: option.label for option in question.options}
        parts = [labels.get(choice, choice) for choice in answer.choices if choice != OTHER]
        if answer.text:
            parts.append(f"Other: {answer.text}")
        return "; ".join(parts)


class SingleChoice(Options, PickOne):
    kind = QuestionKind.SINGLE
    refusal = lazy_gettext("Choose one of the options.")


class YesNo(PickOne):
    kind = QuestionKind.YES_NO
    refusal = lazy_gettext("Answer yes or no.")

    def choices(self, question: Question) -> list[tuple[str, str]]:
        return [(value, str(label)) for value, label in YES_NO]

    def answer_text(self, question: Question, answer: Answer) -> str:
        return str(dict(YES_NO).get(answer.choices[0], "")) if answer.choices else ""


class MultipleChoice(Options):
    """Several options, and "Other, please specify" when the question offers it."""

    kind = QuestionKind.MULTIPLE
    input_type = "checkbox"

    def codable(self, question: Question) -> bool:
        return question.allow_other  # what "Other, please specify" says

    def parse(self, question: Question, form: FormData) -> Value:
        name = question.html_id
        chosen = [choice for choice in form.getlist(name) if choice]
        known = {option.value for option in question.options}
        if question.allow_other:
            known.add(OTHER)
        if any(choice not in known for choice in chosen):
            raise InvalidAnswer(gettext("Choose from the options shown."))
        value = Value(choices=list(dict.fromkeys(chosen)))
        other = read_one(form, f"{name}_other")
        if len(other) > OTHER_TEXT_LIMIT:
            raise InvalidAnswer(
                gettext(
                    "Please keep “other” under %(limit)s characters (you wrote %(count)s).",
                    limit=OTHER_TEXT_LIMIT,
                    count=len(other),
                ),
                value,
            )
        if other and question.allow_other:
            if OTHER not in value.choices:
                value.choices.append(OTHER)
            value.text = other
        return value

    def validate(self, question: Question, value: Value) -> str | None:
        if OTHER in value.choices and not value.text:
            return gettext("You ticked “Other”: please say what it is.")
        return super().validate(question, value)

    def shown(self, question: Question, value: Value) -> Shown:
        return Shown(choices=list(value.choices), other=value.text or "")

    def after_choices(self, question: Question, frame: Frame) -> list[Piece]:
        if not question.allow_other:
            return []
        other, specify = escape(gettext("Other")), escape(gettext("Other, please specify"))
        qid = frame.qid
        other_describedby = f' aria-describedby="{frame.error_id}"' if frame.has_error else ""
        return [
            f'<label for="{qid}-other-box"><input type="checkbox" id="{qid}-other-box" name="{qid}" '
            f'value="{OTHER}"',
            OTHER_BOX,
            f'> {other}</label><label for="{qid}-other" class="other-text">{specify}</label>'
            f'<input type="text" id="{qid}-other" name="{qid}_other" value="',
            OTHER_TEXT,
            f'"{frame.invalid}{other_describedby}>',
        ]


class Scale(ChoiceKind):
    """A number from `low` to `high`, one radio button each."""

    low: ClassVar[int]
    high: ClassVar[int]

    def parse(self, question: Question, form: FormData) -> Value:
        raw = read_one(form, question.html_id)
        if not raw:
            return Value()
        # isdigit() alone lets "²" through, which int() refuses.
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 2) or not self.low <= int(raw) <= self.high:
            raise InvalidAnswer(
                gettext("Choose a number from %(low)s to %(high)s.", low=self.low, high=self.high)
            )
        return Value(number=int(raw))

    def label(self, number: int) -> str:
        return str(number)

    def choices(self, question: Question) -> list[tuple[str, str]]:
        return [(str(n), self.label(n)) for n in range(self.low, self.high + 1)]

    def shown(self, question: Question, value: Value) -> Shown:
        if value.number is None:
            return super().shown(question, value)
        return Shown(choices=[str(value.number)])

    def summarise(self, question: Question, given: Sequence[Answer]) -> QuestionSummary:
        numbers = [answer.number for answer in given if answer.number is not None]
        counter = Counter(numbers)
        summary = QuestionSummary(
            question,
            answered=len(given),
            counts=[(self.label(n), counter[n]) for n in range(self.low, self.high + 1)],
        )
        if numbers:
            summary.average = round(sum(numbers) / len(numbers), 2)
            summary.nps = self.net_score(numbers)
        return summary

    def net_score(self, numbers: list[int]) -> int | None:
        return None

    def answer_text(self, question: Question, answer: Answer) -> str:
        return "" if answer.number is None else str(answer.number)


class Rating(Scale):
    kind = QuestionKind.RATING
    low, high = 1, 5
    group_class = "choices scale"

    def label(self, number: int) -> str:
        return f"{number} – {RATING_LABELS[number]}"


class Nps(Scale):
    kind = QuestionKind.NPS
    low, high = 0, 10
    group_class = "choices scale nps"
    scale_help = lazy_gettext("0 means not at all likely, 10 means extremely likely.")

    def net_score(self, numbers: list[int]) -> int | None:
        """Promoters (9–10) minus detractors (0–6), as a percentage of the answers."""
        promoters = sum(1 for n in numbers if n >= 9)
        detractors = sum(1 for n in numbers if n <= 6)
        return round(100 * (promoters - detractors) / len(numbers))
