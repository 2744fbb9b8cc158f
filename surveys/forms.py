"""Builder forms (Flask-WTF, CSRF on)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from surveys.library import TEMPLATES
from surveys.models import QuestionKind, Signal


class NewSurveyForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    template = SelectField(
        "Start from",
        choices=[SelectChoice("", "A blank survey"), *(SelectChoice(k, v) for k, v in TEMPLATES.items())],
        validate_choice=True,
    )


class TextsForm(FlaskForm):
    title = StringField("Title customers see", validators=[DataRequired(), Length(max=200)])
    introduction = TextAreaField("Introduction", validators=[Length(max=2000)])
    thank_you = TextAreaField("Thank-you text", validators=[Length(max=2000)])


class QuestionForm(FlaskForm):
    kind = SelectField("Kind", choices=[SelectChoice(k.value, k.label) for k in QuestionKind])
    text = TextAreaField("Question", validators=[DataRequired(), Length(max=1000)])
    help_text = StringField("Help text", validators=[Optional(), Length(max=500)])
    page = IntegerField(
        "Page",
        default=1,
        validators=[DataRequired(), NumberRange(min=1, max=50)],
        description="Questions with the same number appear together on one page.",
    )
    required = BooleanField("Required")
    allow_other = BooleanField("Offer “Other, please specify” (multiple choice)")
    coded = BooleanField(
        "Coded: its answers go to the coding queue",
        description="On for free-text reasons (short or long text, or “Other” in a multiple choice). "
        "Leave off for vendor names, dates and contact details.",
    )
    feeds_competitor = BooleanField(
        "Names the vendor chosen (short text)",
        description="The answer is matched to the competitor list, with merges suggested for close "
        "spellings, and never coded.",
    )
    signal = SelectField(
        "Requalification signal",
        choices=[SelectChoice("", "None"), *(SelectChoice(s.value, s.label) for s in Signal)],
    )
    options = TextAreaField(
        "Options",
        validators=[Length(max=5000)],
        description="Choice questions: one option per line, as Label | reason code | weight, "
        "for example: Price was too high | price.too_high | 0",
    )
    show_if = SelectField(
        "Show only if question", choices=[SelectChoice("", "Always show")], validate_choice=False
    )
    show_if_value = StringField(
        "…has the answer",
        validators=[Optional(), Length(max=120)],
        description="An option value (e.g. price), yes or no, or a number.",
    )
