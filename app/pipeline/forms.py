"""Review forms: accept, reject, defer, and the same for several at once."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import URL, DataRequired, InputRequired, Length, NumberRange, Optional

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


class FirstTouchForm(FlaskForm):
    """Only the CSRF token: recording a first touch needs no more."""


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


class SettingsForm(FlaskForm):
    decision_business_days = IntegerField(
        "Decision due within (business days)", validators=[InputRequired(), NumberRange(min=1, max=60)]
    )
    first_touch_business_days = IntegerField(
        "Owner's first touch due within (business days)",
        validators=[InputRequired(), NumberRange(min=1, max=60)],
    )
    holiday_country = StringField(
        "Public holidays of",
        validators=[DataRequired(), Length(min=2, max=2)],
        description="Two-letter country code, e.g. US, GB, DE, FR.",
    )
    extra_holidays = TextAreaField(
        "Extra days off",
        validators=[Optional(), Length(max=5000)],
        description="One date per line: YYYY-MM-DD.",
    )
    webhook_url = StringField(
        "CRM webhook address",
        validators=[
            Optional(),
            URL(require_tld=False, message="Give a full http(s) address."),
            Length(max=500),
        ],
        description="Optional: accepted requalifications are POSTed here as JSON.",
    )
    webhook_secret = PasswordField(
        "Webhook shared secret",
        validators=[Optional(), Length(min=16, max=200)],
        description="At least 16 characters; leave empty to keep the current one. "
        "X-Winback-Signature is the hex HMAC-SHA256 of the body with it.",
    )


class RuleForm(FlaskForm):
    enabled = BooleanField("Requalify from this campaign's responses")
    min_score = IntegerField("Minimum score", validators=[InputRequired(), NumberRange(min=1, max=1000)])
    open_to_talk_points = IntegerField(
        "Points for “open to a conversation”", validators=[InputRequired(), NumberRange(min=0, max=100)]
    )
    contract_end_months = IntegerField(
        "Contract ends within (months)", validators=[InputRequired(), NumberRange(min=1, max=60)]
    )
    contract_end_points = IntegerField(
        "Points for a contract ending soon", validators=[InputRequired(), NumberRange(min=0, max=100)]
    )
    low_satisfaction_max = IntegerField(
        "Unhappy when the vendor is rated at most", validators=[InputRequired(), NumberRange(min=1, max=5)]
    )
    low_satisfaction_points = IntegerField(
        "Points for an unhappy customer", validators=[InputRequired(), NumberRange(min=0, max=100)]
    )


class TakeForm(FlaskForm):
    """Only the CSRF token: a manager takes an unassigned requalification for themselves."""


class AssignForm(FlaskForm):
    manager_id = SelectField(
        "Sales manager", choices=[], validators=[DataRequired(message="Choose a manager.")]
    )
