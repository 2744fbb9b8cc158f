"""Codebook editor forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

POLARITY_CHOICES = [
    SelectChoice("loss", "Explains losses"),
    SelectChoice("win", "Explains wins"),
    SelectChoice("both", "Both"),
]


class CodeForm(FlaskForm):
    part = StringField(
        "Code",
        validators=[DataRequired(), Length(max=60)],
        description="Lower-case letters, digits and underscores; it is added after the parent's code.",
    )
    parent = SelectField("Parent", choices=[], validators=[Optional()])
    label = StringField("Label", validators=[DataRequired(), Length(max=200)])
    definition = TextAreaField("Definition", validators=[Optional(), Length(max=2000)])
    example = TextAreaField("Example", validators=[Optional(), Length(max=2000)])
    polarity = SelectField("Explains", choices=POLARITY_CHOICES)


class EditCodeForm(FlaskForm):
    label = StringField("Label", validators=[DataRequired(), Length(max=200)])
    definition = TextAreaField("Definition", validators=[Optional(), Length(max=2000)])
    example = TextAreaField("Example", validators=[Optional(), Length(max=2000)])
    polarity = SelectField("Explains", choices=POLARITY_CHOICES)


class MoveForm(FlaskForm):
    parent = SelectField("New parent", choices=[], validators=[Optional()])


class MergeForm(FlaskForm):
    into = SelectField("Merge into", choices=[], validators=[DataRequired()])


class ImportForm(FlaskForm):
    file = FileField("Codebook CSV", validators=[FileRequired()])


class ActionForm(FlaskForm):
    """A button that only needs CSRF."""
