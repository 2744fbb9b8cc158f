"""Ready-made surveys that ship with Winback (offered as templates in the builder)."""

from __future__ import annotations

from datetime import datetime

from surveys.builder import OptionSpec, QuestionSpec, build_version, create_survey
from surveys.models import QuestionKind as K
from surveys.models import Signal, Survey

WIN_LOSS = "win_loss"

_FACTORS = [
    OptionSpec("Price", "price", "price.too_high"),
    OptionSpec("Product fit or features", "product_fit", "product.missing_feature"),
    OptionSpec("Ease of use", "ease_of_use", "product.usability"),
    OptionSpec("Integrations with our tools", "integrations", "product.integration"),
    OptionSpec("Relationship with their team", "relationship", "relationship"),
    OptionSpec("Implementation effort or risk", "implementation", "implementation"),
    OptionSpec("Timing", "timing", "timing"),
    OptionSpec("Support and service", "support", "support"),
    OptionSpec("Budget", "budget", "budget"),
]

WIN_LOSS_QUESTIONS = [
    QuestionSpec(
        K.SINGLE,
        "What was the main reason you chose another option?",
        page=1,
        required=True,
        options=[
            *_FACTORS,
            OptionSpec("We kept our current vendor", "kept_incumbent", "relationship.incumbent"),
            OptionSpec("We decided not to buy for now", "no_decision", "timing.no_decision"),
        ],
    ),
    QuestionSpec(
        K.SHORT_TEXT,
        "Which vendor did you choose?",
        page=1,
        help_text="Leave it empty if you'd rather not say.",
        feeds_competitor=True,
    ),
    QuestionSpec(
        K.MULTIPLE,
        "Which other factors mattered?",
        page=1,
        help_text="Tick all that apply.",
        allow_other=True,
        options=list(_FACTORS),
    ),
    QuestionSpec(
        K.RATING,
        "How is your chosen solution working out so far?",
        page=2,
        help_text="1 is very poor, 5 is excellent.",
        signal=Signal.VENDOR_SATISFACTION,
    ),
    QuestionSpec(
        K.DATE,
        "When does your current contract end?",
        page=2,
        help_text="An approximate date is fine.",
        signal=Signal.CONTRACT_END,
    ),
    QuestionSpec(
        K.YES_NO,
        "Would you be open to a short conversation with us later?",
        page=2,
        required=True,
        signal=Signal.OPEN_TO_TALK,
    ),
    QuestionSpec(
        K.SINGLE,
        "When would a conversation suit you?",
        page=3,
        required=True,
        signal=Signal.OPEN_TO_TALK,
        show_if_position=6,
        show_if_value="yes",
        options=[
            OptionSpec("Within a month", "within_month", weight=3),
            OptionSpec("In one to three months", "one_to_three_months", weight=2),
            OptionSpec("In six months or later", "six_months", weight=1),
        ],
    ),
    QuestionSpec(
        K.LONG_TEXT,
        "Is there anything we could have done differently?",
        page=4,
        help_text="Optional. A sentence or two helps us most.",
    ),
]

TEMPLATES = {WIN_LOSS: "Win/loss survey (ready to use)"}


def create_from_template(key: str, *, now: datetime, name: str | None = None) -> Survey:
    """A new survey (draft) with the template's questions."""
    if key != WIN_LOSS:
        raise KeyError(key)
    survey = create_survey(
        name or "Win/loss survey",
        title="Help us understand your decision",
        introduction=(
            "You recently chose another option over ours. A few short questions, about two minutes. "
            "Your answers are saved as you go, so you can stop and continue later with the same link."
        ),
        thank_you=(
            "Thank you. Your answers were saved and go straight to the team that decides "
            "what we change. We will not contact you unless you asked us to."
        ),
        now=now,
    )
    survey.template_key = key
    build_version(survey.versions[0], WIN_LOSS_QUESTIONS)
    return survey
