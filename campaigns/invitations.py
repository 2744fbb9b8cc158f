"""Survey campaigns: each new enrollment gets a survey invitation, queued through the surveys package."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from email.utils import parseaddr

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.messaging.suppression import contact_suppression_reason
from app.organisation.service import brand
from campaigns.models import (
    Campaign,
    CampaignKind,
    CampaignStatus,
    Enrollment,
    EnrollmentStatus,
    EnrollmentSuppression,
)
from campaigns.wording import default_templates
from surveys.invitations import (
    DEFAULT_SENDER,
    InvitationNotSendable,
    MessageTemplates,
    ReminderWording,
    create_invitation,
    queue_invitation_message,
    send_due_reminders,
)
from surveys.models import Invitation, SurveyVersion, VersionStatus

INVITATION_CHUNK = 200


def campaign_sender(campaign: Campaign) -> str:
    """Who signs the campaign's messages ({{ sender }}): its From name, else the organisation's name."""
    return campaign.from_name or brand().name or DEFAULT_SENDER


def campaign_from(campaign: Campaign) -> str:
    """The From header of the campaign's emails: its From name at its own address, else at MAIL_FROM's."""
    default_address = parseaddr(current_app.config["MAIL_FROM"])[1]
    if not campaign.from_name and not campaign.from_email:
        return current_app.config["MAIL_FROM"]
    return campaign.from_address(default_address)


def invitation_templates(campaign: Campaign) -> MessageTemplates:
    """The campaign's invitation words; the default wording fills what the admin left empty."""
    defaults = default_templates()
    return MessageTemplates(
        email_subject=campaign.email_subject or defaults.email_subject,
        email_text=campaign.email_text or defaults.email_text,
        email_html=campaign.email_html or (None if campaign.email_text else defaults.email_html),
        sms_text=campaign.sms_text or defaults.sms_text,
    )


def reminder_templates(campaign: Campaign) -> MessageTemplates:
    invitation = invitation_templates(campaign)
    return MessageTemplates(
        email_subject=campaign.reminder_subject or f"Reminder: {invitation.email_subject}",
        email_text=campaign.reminder_text or invitation.email_text,
        email_html=campaign.reminder_html or (None if campaign.reminder_text else invitation.email_html),
        sms_text=campaign.sms_text or invitation.sms_text,
    )


def campaigns_on_survey(survey_id: int) -> list[Campaign]:
    """The campaigns that invite to some version of this survey, newest first."""
    return list(
        db.session.scalars(
            select(Campaign)
            .join(SurveyVersion, Campaign.survey_version_id == SurveyVersion.id)
            .where(SurveyVersion.survey_id == survey_id)
            .order_by(Campaign.id.desc())
        )
    )


def move_campaigns_to_version(version: SurveyVersion) -> int:
    """Point every unfinished campaign on this survey at `version`: its new invitations use it.

    Invitations already created keep their own version, so links already sent keep working as they were.
    Finished campaigns keep the version they ran with. Returns how many campaigns moved.
    """
    moved = 0
    for campaign in campaigns_on_survey(version.survey_id):
        if campaign.status is not CampaignStatus.FINISHED and campaign.survey_version_id != version.id:
            campaign.survey_version_id = version.id
            moved += 1
    db.session.flush()
    return moved


def current_survey_version(campaign: Campaign) -> SurveyVersion | None:
    """The version new invitations use: the newest published version of the campaign's survey."""
    version = campaign.survey_version
    if version is None or version.status is VersionStatus.PUBLISHED:
        return version
    return version.survey.published or version


def invite_new_enrollments(
    campaign: Campaign,
    *,
    now: datetime,
    checkpoint: Callable[[], object] | None = None,
    chunk_size: int = INVITATION_CHUNK,
) -> int:
    """Create and queue an invitation for every active enrollment that has none yet; return how many.

    Suppression is checked again as the message is queued: a contact who opted out in between is
    marked suppressed instead. With `checkpoint`, `chunk_size` invitations at a time, checkpointed
    between: each is rendered and checked one by one, so a chunk is kept small.
    """
    version = current_survey_version(campaign)
    if campaign.kind is CampaignKind.CALL or version is None:
        return 0
    templates = invitation_templates(campaign)
    queued = 0
    while True:
        count, done = _invite_chunk(
            campaign, version, templates, now=now, limit=chunk_size if checkpoint else None
        )
        queued += count
        if checkpoint is None or done:
            return queued
        checkpoint()


def _invite_chunk(
    campaign: Campaign,
    version: SurveyVersion,
    templates: MessageTemplates,
    *,
    now: datetime,
    limit: int | None,
) -> tuple[int, bool]:
    """Invite up to `limit` pending enrollments (all without one); (queued, whether none are left)."""
    pending = db.session.scalars(
        select(Enrollment)
        .where(
            Enrollment.campaign_id == campaign.id,
            Enrollment.status == EnrollmentStatus.ACTIVE,
            Enrollment.invitation_id.is_(None),
        )
        .options(joinedload(Enrollment.contact), joinedload(Enrollment.opportunity))
        .order_by(Enrollment.id)
        .limit(limit)
    ).all()
    queued = 0
    for enrollment in pending:
        invitation = create_invitation(
            version,
            enrollment.contact,
            channel=campaign.survey_channel,
            now=now,
            opportunity=enrollment.opportunity,
            reminder_max=campaign.reminder_max,
            reminder_min_days=campaign.reminder_min_days,
        )
        enrollment.invitation_id = invitation.id
        try:
            queue_invitation_message(
                invitation,
                templates,
                kind="invitation",
                now=now,
                sender=campaign_sender(campaign),
                from_address=campaign_from(campaign),
                reply_to=campaign.reply_to,
            )
        except InvitationNotSendable:
            reason = contact_suppression_reason(enrollment.contact, campaign.survey_channel)
            enrollment.status = EnrollmentStatus.SUPPRESSED
            enrollment.suppression_reason = EnrollmentSuppression(reason.value) if reason else None
            enrollment.status_changed_at = now
            continue
        queued += 1
    db.session.flush()
    return queued, limit is None or len(pending) < limit


def send_campaign_reminders(*, now: datetime, checkpoint: Callable[[], object] | None = None) -> int:
    """The worker's reminders: the one reminder path, surveys' send_due_reminders (see campaign_wordings)."""
    return send_due_reminders(now=now, checkpoint=checkpoint)


def campaign_wordings(invitations: list[Invitation], **_: object) -> dict[int, ReminderWording | None]:
    """Answer surveys' reminder_wordings_asked for the invitations of campaigns.

    An invitation of an active enrollment in an active campaign is reminded in the campaign's words and
    signature; one whose campaign is paused, draft or finished, or whose enrollment ended, is not (None).
    """
    ids = [invitation.id for invitation in invitations]
    if not ids:
        return {}
    enrollments = db.session.scalars(
        select(Enrollment).where(Enrollment.invitation_id.in_(ids)).options(joinedload(Enrollment.campaign))
    ).all()
    wordings: dict[int, ReminderWording | None] = {}
    for enrollment in enrollments:
        campaign = enrollment.campaign
        sendable = enrollment.status is EnrollmentStatus.ACTIVE and campaign.status is CampaignStatus.ACTIVE
        wordings[enrollment.invitation_id] = (
            ReminderWording(
                reminder_templates(campaign),
                campaign_sender(campaign),
                from_address=campaign_from(campaign),
                reply_to=campaign.reply_to,
            )
            if sendable
            else None
        )
    return wordings
