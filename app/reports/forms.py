"""The funnel targets form (admins)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DecimalField, IntegerField
from wtforms.validators import InputRequired, NumberRange


def _count(label: str, description: str) -> IntegerField:
    return IntegerField(
        label,
        validators=[
            InputRequired(message="Enter a whole number (0 for no target)."),
            NumberRange(min=0, max=1_000_000, message="Enter a whole number from 0 to 1,000,000."),
        ],
        description=description,
    )


def _rate(label: str, description: str) -> DecimalField:
    return DecimalField(
        label,
        places=1,
        validators=[
            InputRequired(message="Enter a percentage (0 for no assumption)."),
            NumberRange(min=0, max=100, message="Enter a percentage between 0 and 100."),
        ],
        description=description,
    )


class TargetsForm(FlaskForm):
    requalified = _count(
        "Requalified deals delivered to sales, per month",
        "Requalifications created in the month, from surveys and calls.",
    )
    accepted = _count(
        "Accepted by sales, per month", "Requalifications a sales manager accepted in the month."
    )
    recovered_revenue = DecimalField(
        "Recovered revenue per month",
        places=2,
        validators=[
            InputRequired(message="Enter an amount (0 for no target)."),
            NumberRange(min=0, max=10**14, message="Enter an amount of 0 or more."),
        ],
        description="In the reporting currency: won recycled deals closed in the month.",
    )
    response_rate = _rate("Response rate (%)", "Survey invitations sent in the month that were completed.")
    acceptance_rate = _rate(
        "Acceptance rate (%)", "Of the requalifications decided in the month, those accepted."
    )
    win_rate = _rate(
        "Win rate of recycled deals (%)", "Of the recycled deals closed in the month, those won."
    )
