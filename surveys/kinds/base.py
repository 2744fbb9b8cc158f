"""What every question kind does, and the values, errors and HTML pieces the kinds share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from flask_babel import lazy_gettext

from app.errors import ValidationError
from app.validation import strip_control_characters

if TYPE_CHECKING:
    from surveys.models import Answer, Question, QuestionKind

OTHER = "__other__"
NEEDS_AN_ANSWER = lazy_gettext("This question needs an answer.")


class FormData(Protocol):
    def getlist(self, key: str) -> list[str]: ...


class InvalidAnswer(ValidationError):
    """What the respondent sent is not an answer of this kind; `value` is what could be read of it."""

    code = "invalid_answer"

    def __init__(self, message: str, value: Value | None = None) -> None:
        super().__init__(str(message))
        self.value = value if value is not None else Value()


@dataclass
class Value:
    """One parsed answer, before it is stored."""

    choices: list[str] = field(default_factory=list)
    text: str | None = None
    number: int | None = None
    date_value: date | None = None

    @property
    def empty(self) -> bool:
        return not self.choices and not self.text and self.number is None and self.date_value is None

    def matches(self, expected: str) -> bool:
        if expected in self.choices:
            return True
        if self.number is not None and str(self.number) == expected:
            return True
        return self.text is not None and self.text.strip().lower() == expected.strip().lower()


def value_of(answer: Answer) -> Value:
    return Value(
        choices=list(answer.choices or []),
        text=answer.text,
        number=answer.number,
        date_value=answer.date_value,
    )


def read_one(form: FormData, name: str) -> str:
    """The first value sent under `name`, without control characters and surrounding blanks."""
    values = form.getlist(name)
    return strip_control_characters(values[0]).strip() if values else ""


@dataclass
class Shown:
    """What a field shows: the answer typed (even if refused), so nothing is lost on an error."""

    choices: list[str] = field(default_factory=list)
    text: str = ""
    other: str = ""


class Slot:
    """A place in a question's pre-rendered HTML for the respondent's own value."""

    __slots__ = ("choice",)

    def __init__(self, choice: str | None = None) -> None:
        self.choice = choice  # a choice's value: " checked" goes here when it is chosen


TEXT = Slot()  # the text typed (escaped)
OTHER_TEXT = Slot()  # the "other, please specify" text (escaped)
OTHER_BOX = Slot()  # " checked" on the "Other" box

Piece = str | Slot


@dataclass(frozen=True)
class Frame:
    """The parts of a question's HTML that every kind shares (all escaped already)."""

    qid: str
    text: str  # the question, escaped
    required: str  # "(required)" or "(optional)"
    help_html: str
    error_html: str
    format_html: str
    describedby: str  # ' aria-describedby="…"' or ""
    invalid: str  # ' aria-invalid="true"' or ""
    error_id: str
    has_error: bool
    is_required: bool


@dataclass
class QuestionSummary:
    question: Any  # a Question or its frozen copy
    answered: int = 0
    counts: list[tuple[str, int]] = field(default_factory=list)
    average: float | None = None
    nps: int | None = None
    texts: list[str] = field(default_factory=list)
    drop_off: int = 0


class Kind:
    """One question kind: how its answer is parsed, validated, rendered, summarised and exported.

    Subclasses set `kind` and override what differs; `surveys.kinds.KINDS` holds one of each.
    """

    kind: ClassVar[QuestionKind]
    format_hint: ClassVar[Any] = None  # shown under the field, tied by aria-describedby
    names_vendor: ClassVar[bool] = False  # its answer can name the vendor chosen (and feed the competitor)

    def codable(self, question: Question) -> bool:
        """Whether its answers can hold the customer's own words, to code into reasons."""
        return False

    # --- parse and validate ---------------------------------------------------------------------

    def parse(self, question: Question, form: FormData) -> Value:
        """The answer sent in fields named q<id> (and q<id>_other); InvalidAnswer if it is not one."""
        raise NotImplementedError

    def validate(self, question: Question, value: Value) -> str | None:
        """The error of a parsed answer against the question's rules, or None."""
        if question.required and value.empty:
            return str(NEEDS_AN_ANSWER)
        return None

    # --- render ---------------------------------------------------------------------------------

    def choices(self, question: Question) -> list[tuple[str, str]]:
        """(value, label) for every choice the question offers."""
        return []

    def shown(self, question: Question, value: Value) -> Shown:
        """What the field shows for a stored answer."""
        return Shown(choices=list(value.choices), text=value.text or "")

    def shown_from_form(self, question: Question, form: Any) -> Shown:
        """What the field shows for what was just sent (refused or not)."""
        raise NotImplementedError

    def layout(self, question: Question, frame: Frame) -> list[Piece]:
        """The question's HTML, with slots for the respondent's values."""
        raise NotImplementedError

    # --- summarise and export -------------------------------------------------------------------

    def summarise(self, question: Question, given: Sequence[Answer]) -> QuestionSummary:
        """Counts, averages and texts of the answers given."""
        texts = [self.answer_text(question, answer) for answer in given][:20]
        return QuestionSummary(question, answered=len(given), texts=texts)

    def answer_text(self, question: Question, answer: Answer) -> str:
        """An answer as a person reads it (exports, summaries)."""
        return answer.text or ""
