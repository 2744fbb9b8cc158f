"""Forms of the messaging admin pages."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField
from wtforms import SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

KIND_CHOICES = [
    SelectChoice("", "Guess from the value"),
    SelectChoice("email", "Email address"),
    SelectChoice("phone", "Phone number"),
    SelectChoice("domain", "Whole domain"),
]


class DoNotContactForm(FlaskForm):
    value = StringField(
        "Email, phone or domain",
        validators=[DataRequired(), Length(max=254)],
        description="e.g. jane@example.com, +1 415 555 0100 or example.com (everyone at that domain).",
    )
    kind = SelectField("Kind", choices=KIND_CHOICES, validators=[Optional()])
    note = StringField(
        "Note", validators=[Optional(), Length(max=500)], description="Why, for the next admin."
    )


class DoNotContactImportForm(FlaskForm):
    file = FileField(
        "CSV file",
        validators=[Optional(), FileAllowed(["csv", "txt"], "A .csv or .txt file, please.")],
        description="One value per cell; a header row naming email, phone or domain columns is understood.",
    )
    pasted = TextAreaField(
        "Or paste a list",
        validators=[Optional(), Length(max=2_000_000)],
        description="One email, phone or domain per line.",
    )


class ActionForm(FlaskForm):
    """A button that changes something: CSRF only."""
