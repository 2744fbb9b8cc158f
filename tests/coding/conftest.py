"""A small win/loss survey whose answers the coding tests code."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from werkzeug.datastructures import MultiDict

from app.auth.models import Role
from app.extensions import db
from surveys.builder import OptionSpec, QuestionSpec
from surveys.models import Answer
from surveys.models import QuestionKind as K
from surveys.responding import record_phone_response
from tests.survey_helpers import NOW, published_survey

SPECS = [
    QuestionSpec(
        K.SINGLE,
        "Main reason?",
        page=1,
        options=[
            OptionSpec("Price", "price", reason_code="price.too_high"),
            OptionSpec("Timing", "timing", reason_code="timing.priorities"),
            OptionSpec("Something else", "else"),
        ],
    ),
    QuestionSpec(
        K.MULTIPLE,
        "Other factors?",
        page=1,
        options=[
            OptionSpec("Support", "support", reason_code="support"),
            OptionSpec("Integrations", "integrations", reason_code="product.integration"),
        ],
    ),
    QuestionSpec(K.LONG_TEXT, "Why did you choose another vendor?", page=1),
]


@pytest.fixture
def survey():
    return published_survey(SPECS, name="Win/loss")


@pytest.fixture
def respond(survey, make_user, make_contact) -> Callable[..., Answer]:
    """Complete a phone response; returns its free-text answer."""
    caller = make_user(Role.CALLER)

    def factory(text: str = "Too expensive for us", *, main: str = "price", factors=(), opportunity=None):
        version = survey.published
        q = [question.id for question in version.questions]
        form = MultiDict([(f"q{q[0]}", main), *((f"q{q[1]}", f) for f in factors), (f"q{q[2]}", text)])
        response, errors = record_phone_response(
            version, form, caller=caller, contact=make_contact(), opportunity=opportunity, now=NOW
        )
        assert errors == {}
        db.session.commit()
        return next(a for a in response.answers if a.question_id == q[2])

    return factory
