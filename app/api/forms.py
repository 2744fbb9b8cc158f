"""The API tokens page's form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length

from app.api.models import ALL_SCOPES, Scope


class TokenForm(FlaskForm):
    name = StringField(
        "Integration name",
        validators=[DataRequired(), Length(max=120)],
        description="E.g. salesforce-production. The token is shown once.",
    )
    scopes = SelectMultipleField(
        "What it may do",
        choices=[SelectChoice(scope.value, scope.label) for scope in Scope],
        default=ALL_SCOPES,
        validators=[DataRequired("Choose at least one thing the token may do.")],
        description="Give an integration only what it needs.",
    )
