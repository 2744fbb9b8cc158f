"""Coding forms (the workbench's code picker is plain checkboxes read from request.form)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DecimalField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional


class CodeAnswerForm(FlaskForm):
    memo = TextAreaField("Memo", validators=[Optional(), Length(max=2000)])
    span = StringField(
        "Supporting span",
        validators=[Optional(), Length(max=20)],
        description="Characters start-end of the text that supports the codes (select text to fill it).",
    )


class BulkForm(FlaskForm):
    search = StringField("Answers containing", validators=[DataRequired(), Length(min=2, max=200)])
    code = SelectField("Code to apply", choices=[], validators=[DataRequired()])


class RuleForm(FlaskForm):
    code = SelectField("Code", choices=[], validators=[DataRequired()])
    phrase = StringField("Keyword or phrase", validators=[DataRequired(), Length(min=2, max=200)])


class AutoAcceptForm(FlaskForm):
    code = SelectField("Code", choices=[], validators=[DataRequired()])
    threshold = DecimalField(
        "Auto-accept above confidence",
        places=2,
        validators=[Optional(), NumberRange(min=0.5, max=1)],
        description="Empty turns auto-accept off. Allowed only where the measured precision is high enough.",
    )


class SampleForm(FlaskForm):
    share = DecimalField(
        "Share of uncoded answers (%)", default=20, validators=[DataRequired(), NumberRange(1, 100)]
    )
    coders = SelectMultipleField("Analysts", choices=[], validators=[DataRequired()])


class ActionForm(FlaskForm):
    """A button that only needs CSRF."""
