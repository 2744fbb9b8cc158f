"""Kinds answered in one field: short text, long text and date."""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar

from surveys.kinds.base import TEXT, FormData, Frame, InvalidAnswer, Kind, Piece, Shown, Value, read_one
from surveys.models import QuestionKind

if TYPE_CHECKING:
    from surveys.models import Answer, Question

SHORT_TEXT_LIMIT = 300
LONG_TEXT_LIMIT = 5000


class FieldKind(Kind):
    """A label and one input: what was typed is shown back as it was typed."""

    input_type: ClassVar[str] = "text"

    def shown_from_form(self, question: Question, form: Any) -> Shown:
        values = form.getlist(question.html_id)
        return Shown(text=values[0] if values else "")

    def layout(self, question: Question, frame: Frame) -> list[Piece]:
        qid = frame.qid
        flags = f"{' required' if frame.is_required else ''}{frame.describedby}{frame.invalid}"
        label = (
            f'<label for="{qid}">{frame.text}{frame.required}</label>'
            f"{frame.help_html}{frame.format_html}{frame.error_html}"
        )
        return [label, *self.field(qid, flags)]

    def field(self, qid: str, flags: str) -> list[Piece]:
        return [f'<input id="{qid}" name="{qid}" value="', TEXT, f'" type="{self.input_type}"{flags}>']


class TextKind(FieldKind):
    """Free text up to `limit` characters; a longer text is refused whole, never cut."""

    limit: ClassVar[int]

    def codable(self, question: Question) -> bool:
        return True

    def parse(self, question: Question, form: FormData) -> Value:
        raw = read_one(form, question.html_id)
        if len(raw) > self.limit:
            raise InvalidAnswer(
                f"Please keep this under {self.limit} characters (you wrote {len(raw)}). Nothing was cut."
            )
        return Value(text=raw or None)


class ShortText(TextKind):
    kind = QuestionKind.SHORT_TEXT
    limit = SHORT_TEXT_LIMIT
    names_vendor = True


class LongText(TextKind):
    kind = QuestionKind.LONG_TEXT
    limit = LONG_TEXT_LIMIT

    def field(self, qid: str, flags: str) -> list[Piece]:
        return [f'<textarea id="{qid}" name="{qid}" rows="5"{flags}>', TEXT, "</textarea>"]


DATE_HINT = "Choose it in the calendar, or type it like 31 March 2027 or 2027-03-31."
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_DAY_MONTH_YEAR = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?\s+([a-z]+)\.?,?\s+(\d{4})")
_MONTH_DAY_YEAR = re.compile(r"([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})")


def parse_date(raw: str) -> date | None:
    """A date typed as DATE_HINT says (what a date picker sends, year-month-day, is one of them)."""
    text = " ".join(raw.lower().split())
    if len(text) > 40:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    for pattern, order in ((_DAY_MONTH_YEAR, (0, 1, 2)), (_MONTH_DAY_YEAR, (1, 0, 2))):
        match = pattern.fullmatch(text)
        if match is None:
            continue
        parts = match.groups()
        day, month, year = (parts[i] for i in order)
        if month not in _MONTHS:
            return None
        try:
            return date(int(year), _MONTHS[month], int(day))
        except ValueError:
            return None
    return None


class DateKind(FieldKind):
    """A date: the picker shows the browser's own format and sends year-month-day; without a picker
    the field is plain text and accepts the forms DATE_HINT names."""

    kind = QuestionKind.DATE
    input_type = "date"
    format_hint = DATE_HINT

    def parse(self, question: Question, form: FormData) -> Value:
        raw = read_one(form, question.html_id)
        if not raw:
            return Value()
        day = parse_date(raw)
        if day is None:
            raise InvalidAnswer(f"Enter a date we can read. {DATE_HINT}")
        return Value(date_value=day)

    def validate(self, question: Question, value: Value) -> str | None:
        if value.date_value is not None and not 1900 <= value.date_value.year <= 2200:
            return "Enter a date between the years 1900 and 2200."
        return super().validate(question, value)

    def shown(self, question: Question, value: Value) -> Shown:
        if value.date_value is None:
            return super().shown(question, value)
        return Shown(choices=list(value.choices), text=value.date_value.isoformat())

    def answer_text(self, question: Question, answer: Answer) -> str:
        return answer.date_value.isoformat() if answer.date_value else ""
