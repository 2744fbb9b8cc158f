"""Kinds answered in one field: short text, long text and date."""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar

from flask_babel import gettext, lazy_gettext

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
                gettext(
                    "Please keep this under %(limit)s characters (you wrote %(count)s). Nothing was cut.",
                    limit=self.limit,
                    count=len(raw),
                )
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


DATE_HINT = lazy_gettext("Choose it in the calendar, or type it like 31 March 2027 or 2027-03-31.")
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            # English, German, French, Spanish and Dutch: the respondent types in their own language.
            ("january", "jan", "januar", "janvier", "janv", "enero", "ene", "januari"),
            ("february", "feb", "februar", "février", "fevrier", "févr", "fevr", "febrero", "februari"),
            ("march", "mar", "märz", "maerz", "mär", "mars", "marzo", "maart", "mrt"),
            ("april", "apr", "avril", "avr", "abril", "abr"),
            ("may", "mai", "mayo", "mei"),
            ("june", "jun", "juni", "juin", "junio"),
            ("july", "jul", "juli", "juillet", "juil", "julio"),
            ("august", "aug", "août", "aout", "agosto", "ago", "augustus"),
            ("september", "sep", "sept", "septembre", "septiembre", "setiembre"),
            ("october", "oct", "oktober", "okt", "octobre", "octubre"),
            ("november", "nov", "novembre", "noviembre"),
            ("december", "dec", "dezember", "dez", "décembre", "decembre", "déc", "diciembre", "dic"),
        ),
        start=1,
    )
    for name in names
}
# "31 March 2027", "31. März 2027", "31 de marzo de 2027"; "March 31, 2027".
_DAY_MONTH_YEAR = re.compile(
    r"(\d{1,2})(?:st|nd|rd|th|er)?\.?\s+(?:de\s+)?([^\W\d_]+)\.?,?\s+(?:de\s+)?(\d{4})"
)
_MONTH_DAY_YEAR = re.compile(r"([^\W\d_]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})")


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
            raise InvalidAnswer(gettext("Enter a date we can read.") + " " + str(DATE_HINT))
        return Value(date_value=day)

    def validate(self, question: Question, value: Value) -> str | None:
        if value.date_value is not None and not 1900 <= value.date_value.year <= 2200:
            return gettext("Enter a date between the years 1900 and 2200.")
        return super().validate(question, value)

    def shown(self, question: Question, value: Value) -> Shown:
        if value.date_value is None:
            return super().shown(question, value)
        return Shown(choices=list(value.choices), text=value.date_value.isoformat())

    def answer_text(self, question: Question, answer: Answer) -> str:
        return answer.date_value.isoformat() if answer.date_value else ""
