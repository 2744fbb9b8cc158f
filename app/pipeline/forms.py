"""Review forms: accept, reject, defer, and the same for several at once."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, DecimalField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from app.pipeline.models import REJECT_REASONS

REJECT_CHOICES = [
    SelectChoice("", "Choose a reason"),
    *(SelectChoice(k, v) for k, v in REJECT_REASONS.items()),
]


class AcceptForm(FlaskForm):
    owner = SelectField("Owner", choices=[], validators=[DataRequired(message="Choose the owner.")])
    expected_amount = DecimalField(
        "Expected amount", places=2, validators=[Optional(), NumberRange(min=0)], description="Optional."
    )
    next_step = StringField("Next step", validators=[Optional(), Length(max=500)])
    next_step_date = DateField("Next step date", validators=[Optional()], description="Year-month-day.")


class RejectForm(FlaskForm):
    reason = SelectField(
        "Reason", choices=REJECT_CHOICES, validators=[DataRequired(message="Choose a reason.")]
    )
    text = TextAreaField(
        "Why", validators=[Optional(), Length(max=2000)], description="Required when the reason is Other."
    )


class DeferForm(FlaskForm):
    until = DateField("Defer until", validators=[InputRequired(message="Say until when.")])


class BulkForm(FlaskForm):
    action = SelectField(
        "Action",
        choices=[
            SelectChoice("accept", "Accept"),
            SelectChoice("reject", "Reject"),
            SelectChoice("defer", "Defer"),
        ],
        validators=[DataRequired()],
    )
    owner = SelectField("Owner (accept)", choices=[], validators=[Optional()])
    reason = SelectField("Reason (reject)", choices=REJECT_CHOICES, validators=[Optional()])
    text = StringField("Why (reject)", validators=[Optional(), Length(max=2000)])
    until = DateField("Defer until (defer)", validators=[Optional()])
