"""Forms of the CRM pages."""

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length, Optional


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
