"""The CRM connection page's form: secrets are password fields, never filled in again."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import URL, DataRequired, Length, Optional

METHOD_CHOICES = [
    SelectChoice("salesforce:jwt", "Salesforce: OAuth 2.0 JWT bearer (connected app and private key)"),
    SelectChoice("salesforce:password", "Salesforce: username, password and security token"),
    SelectChoice("hubspot:token", "HubSpot: private-app token"),
]
KEEP = "Leave empty to keep the stored one; it is never shown again."


class ConnectionForm(FlaskForm):
    method = SelectField("Connect to", choices=METHOD_CHOICES, validators=[DataRequired()])
    username = StringField("Salesforce username", validators=[Optional(), Length(max=255)])
    domain = SelectField(
        "Salesforce login server",
        choices=[
            SelectChoice("", "login.salesforce.com (production)"),
            SelectChoice("test", "test.salesforce.com (sandbox)"),
        ],
        validators=[Optional()],
    )
    instance_url = StringField(
        "Salesforce instance address",
        validators=[
            Optional(),
            URL(require_tld=False, message="Give a full https address."),
            Length(max=255),
        ],
        description="Optional: e.g. https://acme.my.salesforce.com.",
    )
    consumer_key = StringField("Connected app's consumer key (JWT)", validators=[Optional(), Length(max=255)])
    private_key = TextAreaField(
        "Private key, PEM (JWT)", validators=[Optional(), Length(max=10000)], description=KEEP
    )
    password = PasswordField("Password", validators=[Optional(), Length(max=255)], description=KEEP)
    security_token = PasswordField(
        "Security token", validators=[Optional(), Length(max=255)], description=KEEP
    )
    access_token = PasswordField(
        "HubSpot private-app token", validators=[Optional(), Length(max=500)], description=KEEP
    )
    base_url = StringField(
        "HubSpot API address",
        validators=[
            Optional(),
            URL(require_tld=False, message="Give a full https address."),
            Length(max=255),
        ],
        description="Optional: https://api.hubapi.com unless you were told otherwise.",
    )


class TestForm(FlaskForm):
    """Only the CSRF token and which CRM to test."""

    crm = SelectField(
        "CRM", choices=[SelectChoice("salesforce", "Salesforce"), SelectChoice("hubspot", "HubSpot")]
    )
