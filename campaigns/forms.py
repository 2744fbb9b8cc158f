"""The campaign form: rules, contacts, templates, reminders, call rules and callers."""

from __future__ import annotations

from datetime import time
from typing import Any

from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DecimalField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from app.crm.models import Opportunity
from app.crm.service import filter_choices
from app.extensions import db
from app.messaging.channels import Channel
from campaigns.models import RETRY_OUTCOMES, WEEKDAYS, CampaignKind
from campaigns.service import MERGE_FIELDS, TEMPLATE_FIELDS, eligible_callers, template_error
from campaigns.targeting import TargetingRules
from surveys.models import SurveyVersion, VersionStatus

MERGE_HELP = "Merge fields: " + ", ".join("{{ " + name + " }}" for name in MERGE_FIELDS)


def _keywords(text: str | None) -> list[str]:
    return [word.strip() for word in (text or "").split(",") if word.strip()]


DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class CampaignForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=160)])
    kind = SelectField("Kind", choices=[SelectChoice(kind.value, kind.label) for kind in CampaignKind])
    survey_channel = SelectField(
        "Survey channel",
        choices=[SelectChoice(Channel.EMAIL.value, "Email"), SelectChoice(Channel.SMS.value, "SMS")],
    )
    survey_version_id = SelectField(
        "Survey",
        choices=[],
        coerce=int,
        description="A published survey version; needed to start a survey campaign.",
    )
    requires_approval = BooleanField(
        "New matches wait for approval",
        description="Nobody is contacted until an admin approves the waiting matches on the campaign page.",
    )

    lost_within_days = IntegerField(
        "Lost within (days)",
        validators=[Optional(), NumberRange(min=1, max=3650)],
        description="Only deals closed lost in the last N days. Empty: any time.",
    )
    wait_days_after_close = IntegerField(
        "Wait after close (days)",
        default=0,
        validators=[InputRequired(), NumberRange(min=0, max=3650)],
        description="Give the buyer some time before reaching out.",
    )
    amount_min = DecimalField(
        "Amount from",
        places=2,
        validators=[Optional(), NumberRange(min=0)],
        description="In the reporting currency, converted with the rate of each deal's close month; "
        "a deal without a rate for that month does not match an amount rule.",
    )
    amount_max = DecimalField("Amount up to", places=2, validators=[Optional(), NumberRange(min=0)])
    loss_reasons = SelectMultipleField("CRM loss reasons", choices=[], description="None selected: any.")
    segments = SelectMultipleField("Segments", choices=[], description="None selected: any.")
    regions = SelectMultipleField("Regions", choices=[], description="None selected: any.")
    competitor_ids = SelectMultipleField(
        "Competitors", choices=[], coerce=int, description="None selected: any."
    )
    owners = SelectMultipleField("Deal owners", choices=[], description="None selected: any.")

    title_keywords = StringField(
        "Contact titles or roles",
        validators=[Length(max=500)],
        description="Comma-separated words a contact's title must contain (e.g. VP, Director, Procurement). "
        "Empty: any contact; the deal's primary contact comes first.",
    )
    max_contacts_per_account = IntegerField(
        "At most this many contacts per account",
        default=1,
        validators=[InputRequired(), NumberRange(min=1, max=20)],
    )
    cooldown_days = IntegerField(
        "Cool-down (days)",
        default=90,
        validators=[InputRequired(), NumberRange(min=0, max=3650)],
        description="Skip contacts reached by any campaign in the last N days.",
    )

    from_name = StringField(
        "From name",
        validators=[
            DataRequired("Enter who the messages come from, e.g. Morgan at Acme."),
            Length(max=120),
            Regexp(r"^[^\r\n<>\"]*$", message="Letters, not <, > or quotes."),
        ],
        description="Who the emails say they are from, e.g. Morgan at Acme; it also signs every message "
        "({{ sender }}).",
    )
    from_email = StringField(
        "From address",
        validators=[Optional(), Length(max=254), Email("Enter an email address, e.g. morgan@acme.example.")],
        description="Empty: the app's default sender. Your mail server must be allowed to send for it.",
    )
    reply_to = StringField(
        "Reply-To address",
        validators=[Optional(), Length(max=254), Email("Enter an email address, e.g. team@acme.example.")],
        description="Where customers' replies go; empty: the From address.",
    )
    email_subject = StringField("Invitation subject", validators=[Length(max=255)], description=MERGE_HELP)
    email_text = TextAreaField("Invitation text", description=MERGE_HELP)
    email_html = TextAreaField("Invitation HTML (optional)")
    reminder_subject = StringField("Reminder subject", validators=[Length(max=255)])
    reminder_text = TextAreaField("Reminder text")
    reminder_html = TextAreaField("Reminder HTML (optional)")
    sms_text = TextAreaField("SMS text", description="Keep it short; the opt-out link is a merge field too.")
    reminder_max = IntegerField(
        "Reminders at most", default=2, validators=[InputRequired(), NumberRange(min=0, max=10)]
    )
    reminder_min_days = IntegerField(
        "Days between sends, at least", default=3, validators=[InputRequired(), NumberRange(min=1, max=60)]
    )

    call_max_attempts = IntegerField(
        "Call attempts at most", default=3, validators=[InputRequired(), NumberRange(min=1, max=20)]
    )
    retry_no_answer = IntegerField(
        "Retry after no answer (hours)",
        default=RETRY_OUTCOMES["no_answer"],
        validators=[InputRequired(), NumberRange(min=0, max=720)],
    )
    retry_busy = IntegerField(
        "Retry after busy (hours)",
        default=RETRY_OUTCOMES["busy"],
        validators=[InputRequired(), NumberRange(min=0, max=720)],
    )
    retry_voicemail = IntegerField(
        "Retry after voicemail (hours)",
        default=RETRY_OUTCOMES["voicemail"],
        validators=[InputRequired(), NumberRange(min=0, max=720)],
    )
    calling_window_start = TimeField(
        "Calling window starts",
        default=time(9, 0),
        validators=[InputRequired()],
        description="In the contact's local time.",
    )
    calling_window_end = TimeField("Calling window ends", default=time(18, 0), validators=[InputRequired()])
    calling_days = SelectMultipleField(
        "Calling days",
        choices=[SelectChoice(n, name) for n, name in enumerate(DAY_NAMES)],
        coerce=int,
        description="In the contact's local time; none chosen means Monday to Friday.",
    )
    call_max_per_day = IntegerField(
        "Calls per contact per day, at most", default=2, validators=[Optional(), NumberRange(min=1, max=10)]
    )
    cap_no_answer = IntegerField(
        "No answer: attempts at most", validators=[Optional(), NumberRange(min=1, max=20)]
    )
    cap_busy = IntegerField("Busy: attempts at most", validators=[Optional(), NumberRange(min=1, max=20)])
    cap_voicemail = IntegerField(
        "Voicemail: attempts at most", validators=[Optional(), NumberRange(min=1, max=20)]
    )
    callback_release_minutes = IntegerField(
        "Personal callbacks go to anyone after (minutes)",
        default=30,
        validators=[Optional(), NumberRange(min=0, max=1440)],
    )
    call_after_survey_days = IntegerField(
        "Survey, then calls: call after the survey is unanswered for (days)",
        default=7,
        validators=[Optional(), NumberRange(min=0, max=90)],
    )
    call_recording = BooleanField("Record calls (announced, and only with the contact's consent)")
    voicemail_audio_url = StringField(
        "Voicemail drop: recorded message (https URL of an MP3 or WAV)",
        validators=[Optional(), Length(max=500), Regexp(r"^https://\S+$", message="An https:// address.")],
    )
    voicemail_text = TextAreaField(
        "Voicemail drop: text read out when there is no recording", validators=[Optional(), Length(max=1000)]
    )
    callers = SelectMultipleField("Assigned callers", choices=[], coerce=int)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = filter_choices()
        self.loss_reasons.choices = [SelectChoice(value, value) for value in choices["loss_reasons"]]
        self.segments.choices = [SelectChoice(value, value) for value in choices["segments"]]
        self.regions.choices = [SelectChoice(value, value) for value in choices["regions"]]
        self.competitor_ids.choices = [
            (competitor.id, competitor.name) for competitor in choices["competitors"]
        ]
        owners = db.session.scalars(
            select(Opportunity.owner)
            .where(Opportunity.owner.is_not(None))
            .distinct()
            .order_by(Opportunity.owner)
        )
        self.owners.choices = [SelectChoice(value, value) for value in owners]
        versions = db.session.scalars(
            select(SurveyVersion)
            .where(SurveyVersion.status == VersionStatus.PUBLISHED)
            .order_by(SurveyVersion.survey_id, SurveyVersion.number)
        )
        self.survey_version_id.choices = [SelectChoice(0, "None yet")] + [
            SelectChoice(v.id, f"{v.survey.name} (version {v.number})") for v in versions
        ]
        self.callers.choices = [SelectChoice(user.id, user.name) for user in eligible_callers()]

    def validate_amount_max(self, field: DecimalField) -> None:
        if field.data is not None and self.amount_min.data is not None and field.data < self.amount_min.data:
            raise ValidationError("The upper amount must not be below the lower one.")

    def validate_calling_window_end(self, field: TimeField) -> None:
        if field.data and self.calling_window_start.data and field.data <= self.calling_window_start.data:
            raise ValidationError("The calling window must end after it starts.")
        if field.data and field.data > time(21, 0):
            raise ValidationError("Nobody is called after 21:00 their time.")

    def validate_calling_window_start(self, field: TimeField) -> None:
        if field.data and field.data < time(8, 0):
            raise ValidationError("Nobody is called before 8:00 their time.")

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for name, _, html in TEMPLATE_FIELDS:
            error = template_error(getattr(self, name).data, html=html)
            if error:
                getattr(self, name).errors = [*getattr(self, name).errors, error]
                valid = False
        return valid

    def fill_from(self, campaign) -> None:
        """Show a saved campaign in the form (GET)."""
        self.process(obj=campaign)
        self.kind.data = campaign.kind.value
        self.survey_channel.data = campaign.survey_channel.value
        self.survey_version_id.data = campaign.survey_version_id or 0
        self.title_keywords.data = ", ".join(campaign.title_keywords or [])
        retry = campaign.call_retry_hours or {}
        self.retry_no_answer.data = retry.get("no_answer", RETRY_OUTCOMES["no_answer"])
        self.retry_busy.data = retry.get("busy", RETRY_OUTCOMES["busy"])
        self.retry_voicemail.data = retry.get("voicemail", RETRY_OUTCOMES["voicemail"])
        self.callers.data = [user.id for user in campaign.callers]
        caps = campaign.call_outcome_caps or {}
        self.cap_no_answer.data = caps.get("no_answer")
        self.cap_busy.data = caps.get("busy")
        self.cap_voicemail.data = caps.get("voicemail")

    def fill_defaults(self, wording: dict[str, str], *, sender: str) -> None:
        """A new campaign starts with the default wording, signed by the organisation (GET)."""
        for name, text in wording.items():
            getattr(self, name).data = text
        self.from_name.data = sender

    def preview_values(self) -> dict[str, Any]:
        """The values the previews render with; none while a kind or channel is not one offered."""
        try:
            return self.values()
        except ValueError:  # the form says which choice it refused; there is nothing to preview yet
            return {}

    def values(self) -> dict[str, Any]:
        """The cleaned values the service stores."""
        return {
            "name": (self.name.data or "").strip(),
            "kind": CampaignKind(self.kind.data),
            "survey_channel": Channel(self.survey_channel.data),
            "survey_version_id": self.survey_version_id.data or None,
            "requires_approval": bool(self.requires_approval.data),
            "lost_within_days": self.lost_within_days.data,
            "wait_days_after_close": self.wait_days_after_close.data or 0,
            "amount_min": self.amount_min.data,
            "amount_max": self.amount_max.data,
            "loss_reasons": list(self.loss_reasons.data or []),
            "segments": list(self.segments.data or []),
            "regions": list(self.regions.data or []),
            "competitor_ids": list(self.competitor_ids.data or []),
            "owners": list(self.owners.data or []),
            "title_keywords": _keywords(self.title_keywords.data),
            "max_contacts_per_account": self.max_contacts_per_account.data,
            "cooldown_days": self.cooldown_days.data,
            "from_name": (self.from_name.data or "").strip() or None,
            "from_email": (self.from_email.data or "").strip() or None,
            "reply_to": (self.reply_to.data or "").strip() or None,
            **{name: (getattr(self, name).data or None) for name, _, _ in TEMPLATE_FIELDS},
            "reminder_max": self.reminder_max.data,
            "reminder_min_days": self.reminder_min_days.data,
            "call_max_attempts": self.call_max_attempts.data,
            "call_retry_hours": {
                "no_answer": self.retry_no_answer.data,
                "busy": self.retry_busy.data,
                "voicemail": self.retry_voicemail.data,
            },
            "calling_window_start": self.calling_window_start.data,
            "calling_window_end": self.calling_window_end.data,
            "calling_days": sorted(set(self.calling_days.data or WEEKDAYS)),
            "call_max_per_day": self.call_max_per_day.data or 2,
            "call_outcome_caps": {
                outcome: cap
                for outcome, cap in (
                    ("no_answer", self.cap_no_answer.data),
                    ("busy", self.cap_busy.data),
                    ("voicemail", self.cap_voicemail.data),
                )
                if cap
            },
            "callback_release_minutes": 30
            if self.callback_release_minutes.data is None
            else self.callback_release_minutes.data,
            "call_after_survey_days": 7
            if self.call_after_survey_days.data is None
            else self.call_after_survey_days.data,
            "call_recording": bool(self.call_recording.data),
            "voicemail_audio_url": (self.voicemail_audio_url.data or "").strip() or None,
            "voicemail_text": (self.voicemail_text.data or "").strip() or None,
        }

    def rules(self) -> TargetingRules:
        """The targeting rules as typed so far; fields that do not parse count as "any"."""

        def ok(field) -> bool:
            return not field.errors and field.data is not None

        kind = (
            self.kind.data if self.kind.data in {k.value for k in CampaignKind} else CampaignKind.CALL.value
        )
        channel = (
            Channel.CALL if kind == CampaignKind.CALL.value else Channel(self.survey_channel.data or "email")
        )
        return TargetingRules(
            channel=channel,
            lost_within_days=self.lost_within_days.data if ok(self.lost_within_days) else None,
            wait_days_after_close=self.wait_days_after_close.data if ok(self.wait_days_after_close) else 0,
            amount_min=self.amount_min.data if ok(self.amount_min) else None,
            amount_max=self.amount_max.data if ok(self.amount_max) else None,
            loss_reasons=tuple(self.loss_reasons.data or ()),
            segments=tuple(self.segments.data or ()),
            regions=tuple(self.regions.data or ()),
            competitor_ids=tuple(self.competitor_ids.data or ()) if ok(self.competitor_ids) else (),
            owners=tuple(self.owners.data or ()),
            title_keywords=tuple(_keywords(self.title_keywords.data)),
            max_contacts_per_account=self.max_contacts_per_account.data
            if ok(self.max_contacts_per_account)
            else 1,
            cooldown_days=self.cooldown_days.data if ok(self.cooldown_days) else 0,
        )


class StatusForm(FlaskForm):
    """Only the CSRF token: the action is the button pressed."""
