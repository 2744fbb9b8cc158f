"""Forms of the import pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.validators import ValidationError as FormError

from app.validation import CURRENCIES

FORMAT_OPTIONS = [
    SelectChoice("", "Recognise from the header"),
    SelectChoice("salesforce", "Salesforce"),
    SelectChoice("hubspot", "HubSpot"),
    SelectChoice("generic", "Other (map the columns yourself)"),
]


class UploadForm(FlaskForm):
    file = FileField(
        "Export file",
        validators=[
            FileRequired("Choose a file to import"),
            FileAllowed(["csv", "txt", "tsv", "xlsx"], "A CSV, TSV or XLSX export, please"),
        ],
        description="CSV (any delimiter, UTF-8, UTF-16 or Windows-1252) or XLSX, with a header row.",
    )
    format = SelectField("Format", choices=FORMAT_OPTIONS, validators=[Optional()])
    mapping = SelectField("Saved mapping", choices=[], validators=[Optional()])
    day_first = BooleanField("Dates are day first (23.11.2026, 23/11/2026)")
    default_country = StringField(
        "Default country for phone numbers",
        default="US",
        validators=[DataRequired(), Length(2, 2)],
        description="Two letters, e.g. US, GB, DE: used when a number has no +country code.",
    )
    default_currency = StringField(
        "Default currency",
        default="USD",
        validators=[DataRequired(), Length(3, 3)],
        description="Three letters, e.g. USD, EUR, GBP: used when an amount says no currency.",
    )

    def validate_default_currency(self, field) -> None:
        if (field.data or "").strip().upper() not in CURRENCIES:
            raise FormError("Not a known ISO 4217 currency code")


class MappingForm(FlaskForm):
    """The column choices come from the file; the view reads them from request.form."""

    target = SelectField(
        "Each row is",
        choices=[
            SelectChoice("opportunities", "An opportunity (with its account and contact)"),
            SelectChoice("accounts", "An account (adds to the accounts deals are imported with)"),
        ],
        validators=[Optional()],
    )
    lost_stages = StringField("Stage values meaning closed-lost", description="Separate values with commas.")
    won_stages = StringField("Stage values meaning closed-won", description="Separate values with commas.")
    confirm_natural_key = BooleanField("Use account name + opportunity name + close date as the key")
    save_as = StringField(
        "Save this mapping as",
        validators=[Optional(), Length(max=120)],
        description="Reuse it next time (and with --mapping NAME in the CLI).",
    )
