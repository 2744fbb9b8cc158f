"""Forms of the CRM pages."""

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from app.i18n.languages import LANGUAGES


class WhereaboutsForm(FlaskForm):
    timezone = StringField(
        "Time zone",
        validators=[Optional(), Length(max=64)],
        description="An IANA name such as America/New_York or Europe/London; blank when unknown.",
    )
    state = StringField(
        "State or province",
        validators=[Optional(), Length(max=64)],
        description="Of the contact's address, e.g. HI or Hawaii (US states and Canadian provinces).",
    )
    country = StringField(
        "Country",
        validators=[Optional(), Length(max=2)],
        description="Two-letter code of the contact's address, e.g. US or GB.",
    )


class AliasForm(FlaskForm):
    alias = StringField("Spelling in the CRM", validators=[DataRequired(), Length(max=255)])
    competitor = SelectField("Competitor", coerce=int, choices=[])


class ActionForm(FlaskForm):
    """A button-only form (CSRF only)."""


class CompetitorForm(FlaskForm):
    name = StringField("Competitor name", validators=[DataRequired(), Length(max=120)])


class MergeForm(FlaskForm):
    source = SelectField("Merge this competitor", coerce=int, choices=[])
    survivor = SelectField(
        "into this one",
        coerce=int,
        choices=[],
        description="Its deals and aliases move to the second; its name becomes an alias of it.",
    )


class LanguageForm(FlaskForm):
    language = SelectField(
        "Language",
        validators=[Optional()],
        description="Of their emails, SMS and survey pages. Automatic: their country's language, else ours.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.language.choices = [("", "Automatic"), *LANGUAGES.items()]
