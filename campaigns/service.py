"""Campaign editing: save the rules and templates, change status, render templates for a contact."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from app.auth.models import Role, User
from app.crm.models import Competitor, Contact
from app.errors import ValidationError
from app.extensions import db
from app.messaging.channels import Channel
from app.messaging.links import public_base_url
from app.messaging.merge import render_merge
from app.messaging.optout import opt_out_url
from app.organisation.service import missing_for_email
from campaigns.models import (
    CAMPAIGN_ACTIONS,
    Campaign,
    CampaignStateError,
    CampaignStatus,
    campaign_callers,
)
from campaigns.targeting import TargetingRules, candidates
from campaigns.wording import sms_segments

if TYPE_CHECKING:
    from campaigns.enrollment import Preview

# The same fields surveys.invitations.merge_fields fills when the message is queued.
MERGE_FIELDS = ("first_name", "last_name", "company", "survey_link", "opt_out_link", "sender")

# (attribute, label, renders HTML)
TEMPLATE_FIELDS = (
    ("email_subject", "Invitation subject", False),
    ("email_text", "Invitation text", False),
    ("email_html", "Invitation HTML", True),
    ("reminder_subject", "Reminder subject", False),
    ("reminder_text", "Reminder text", False),
    ("reminder_html", "Reminder HTML", True),
    ("sms_text", "SMS text", False),
)

EDITABLE = (
    "name",
    "kind",
    "survey_channel",
    "survey_version_id",
    "requires_approval",
    "lost_within_days",
    "wait_days_after_close",
    "amount_min",
    "amount_max",
    "loss_reasons",
    "segments",
    "regions",
    "competitor_ids",
    "owners",
    "title_keywords",
    "max_contacts_per_account",
    "cooldown_days",
    "from_name",
    "from_email",
    "reply_to",
    *(name for name, _, _ in TEMPLATE_FIELDS),
    "reminder_max",
    "reminder_min_days",
    "call_max_attempts",
    "call_retry_hours",
    "calling_window_start",
    "calling_window_end",
    "calling_days",
    "call_max_per_day",
    "call_outcome_caps",
    "callback_release_minutes",
    "call_after_survey_days",
    "call_recording",
    "voicemail_audio_url",
    "voicemail_text",
)


def merge_fields(contact: Contact, *, sender: str, survey_link: str | None = None) -> dict[str, str]:
    """The merge fields for one real contact (the survey link is a placeholder until one exists)."""
    base = public_base_url()
    return {
        "first_name": contact.first_name or "there",
        "last_name": contact.last_name or "",
        "company": contact.account.name if contact.account else "",
        "survey_link": survey_link or f"{base}/s/preview",
        "opt_out_link": opt_out_url(contact, Channel.EMAIL),
        "sender": sender,
    }


SAMPLE_FIELDS = {
    "first_name": "Jordan",
    "last_name": "Lee",
    "company": "Acme Corp",
    "survey_link": "https://winback.example/s/sample",
    "opt_out_link": "https://winback.example/unsubscribe/sample",
    "sender": "The Winback team",
}


def template_error(template: str | None, *, html: bool = False) -> str | None:
    """The error a template would raise (unknown field, bad syntax), or None when it renders."""
    if not template:
        return None
    try:
        render_merge(template, SAMPLE_FIELDS, html=html)
    except ValidationError as error:
        return error.message
    return None


@dataclass(frozen=True)
class RenderedTemplate:
    name: str
    label: str
    text: str | None
    error: str | None

    @property
    def sms_segments(self) -> int | None:
        """How many SMS segments the rendered SMS takes (None for emails)."""
        return sms_segments(self.text) if self.name == "sms_text" and self.text else None


def render_templates(
    campaign_values: Mapping[str, Any], contact: Contact, *, sender: str
) -> list[RenderedTemplate]:
    """Every non-empty template of a campaign, rendered for a real contact; errors shown, not blanks."""
    fields = merge_fields(contact, sender=sender)
    rendered = []
    for name, label, html in TEMPLATE_FIELDS:
        template = campaign_values.get(name)
        if not template:
            continue
        try:
            rendered.append(RenderedTemplate(name, label, render_merge(template, fields, html=html), None))
        except ValidationError as error:
            rendered.append(RenderedTemplate(name, label, None, error.message))
    return rendered


def preview_contact(
    rules: TargetingRules, *, now: datetime, contact_id: int | None = None, preview: Preview | None = None
) -> Contact | None:
    """The contact to preview templates with: the one asked for, else the first eligible match.

    Pass the page's `preview` (preview_rules) to take it from there instead of a second pass.
    """
    if contact_id:
        return db.session.get(Contact, contact_id)
    if preview is not None:
        first = preview.first_eligible_contact_id
        return db.session.get(Contact, first) if first else None
    source = candidates(rules, now=now).subquery()
    first = db.session.scalar(
        select(source.c.contact_id)
        .where(source.c.suppression_reason.is_(None))
        .order_by(source.c.contact_id)
        .limit(1)
    )
    return db.session.get(Contact, first) if first else None


def eligible_callers() -> list[User]:
    return list(
        db.session.scalars(
            select(User).where(User.role == Role.CALLER, User.active.is_(True)).order_by(User.name)
        )
    )


def save_campaign(campaign: Campaign, values: Mapping[str, Any], *, caller_ids: Iterable[int]) -> Campaign:
    """Apply edited values to a campaign (new or existing); templates with errors are refused."""
    if campaign.status is CampaignStatus.FINISHED:
        raise CampaignStateError("A finished campaign cannot be edited.")
    for name, label, html in TEMPLATE_FIELDS:
        error = template_error(values.get(name), html=html)
        if error:
            raise ValidationError(f"{label}: {error}", field=name)
    for name in EDITABLE:
        if name in values:
            setattr(campaign, name, values[name])
    wanted = set(caller_ids)
    callers = [user for user in eligible_callers() if user.id in wanted]
    if len(callers) != len(wanted):
        raise ValidationError("Only active users with the caller role can be assigned.", field="callers")
    campaign.callers = callers
    db.session.add(campaign)
    db.session.flush()
    return campaign


class ActivationBlocked(CampaignStateError):
    """A campaign that would send email while the organisation lacks what the law asks of it."""

    code = "activation_blocked"

    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        super().__init__(
            f"Emails must carry {' and '.join(missing)} (CAN-SPAM): add it in Settings, Organisation, "
            "before starting this campaign."
        )


def activation_blockers(campaign: Campaign) -> list[str]:
    """What is missing before the campaign may start (empty: nothing); emails need a postal address."""
    if Channel.EMAIL not in campaign.channels:
        return []
    return missing_for_email()


def change_status(campaign: Campaign, action: str, *, now: datetime) -> CampaignStatus:
    """Activate, pause, resume or finish; a wrong move raises CampaignStateError.

    An email campaign starts (or resumes) only once the organisation has a postal address.
    """
    if action not in CAMPAIGN_ACTIONS:
        raise ValidationError(f"Unknown action: {action}")
    if action in ("activate", "resume"):
        missing = activation_blockers(campaign)
        if missing:
            raise ActivationBlocked(missing)
    getattr(campaign, action)(now=now)
    db.session.flush()
    return campaign.status


def campaigns_for(user: User) -> list[Campaign]:
    """Admins see every campaign; callers the ones they are assigned to."""
    query = select(Campaign).order_by(Campaign.status, Campaign.name)
    if user.role is not Role.ADMIN:
        query = query.join(campaign_callers).where(campaign_callers.c.user_id == user.id)
    return list(db.session.scalars(query))


def competitor_names(campaign: Campaign) -> list[str]:
    """The names of the competitors a campaign targets, in the order they were chosen."""
    if not campaign.competitor_ids:
        return []
    rows = db.session.execute(
        select(Competitor.id, Competitor.name).where(Competitor.id.in_(campaign.competitor_ids))
    )
    names = {competitor_id: name for competitor_id, name in rows}
    return [names.get(cid, f"competitor #{cid} (deleted)") for cid in campaign.competitor_ids]


def may_see(user: User, campaign: Campaign) -> bool:
    return user.role is Role.ADMIN or any(caller.id == user.id for caller in campaign.callers)
