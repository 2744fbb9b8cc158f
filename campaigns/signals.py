"""Listen to other packages' signals: an opt-out ends the contact's active enrollments at once, a
completed survey response completes its enrollment, a newly published survey version becomes the
one new invitations use, a contact whose phone, time zone or address changed has its call tasks
re-placed, and reminders of campaign invitations go out in the campaign's words (or not at all when the
campaign is not active)."""

from __future__ import annotations

from datetime import datetime

from app.crm.models import Contact
from app.crm.signals import competitors_merged, contacts_relocated
from app.db_types import utcnow
from app.messaging.channels import Channel
from app.messaging.signals import contact_opted_out
from campaigns.calls.queue import cancel_contact_tasks, refresh_contact_zones
from campaigns.calls.voice import hang_up_contact_calls, listen_for_commits
from campaigns.enrollment import mark_completed, mark_opted_out
from campaigns.import_matches import follow_competitor_merge
from campaigns.invitations import campaign_wordings, campaigns_on_survey, move_campaigns_to_version
from surveys.models import Response, Survey, SurveyVersion
from surveys.signals import (
    SurveyUse,
    reminder_wordings_asked,
    response_completed,
    survey_uses,
    version_published,
)


def _on_contact_opted_out(
    contact: Contact, *, channel: Channel | None = None, now: datetime | None = None, **_: object
) -> None:
    # Runs inside the transaction that recorded the opt-out: it commits both, or neither.
    mark_opted_out(contact.id, channel=channel, now=now or utcnow())
    if channel in (None, Channel.CALL, Channel.SMS):
        # The phone number is on the do-not-contact list now: no call task of the contact may go on.
        cancel_contact_tasks(
            contact.id, reason=f"opted out ({channel.value if channel else 'all'})", now=now or utcnow()
        )
        # A call already ringing or bridged ends too, through Twilio, once the opt-out is committed.
        hang_up_contact_calls(contact.id)


def _on_contacts_relocated(_sender: object, *, contact_ids: list[int], **_: object) -> None:
    # In the transaction that changed the contacts: the next claim sees their new zones.
    refresh_contact_zones(contact_ids)


def _on_response_completed(response: Response, *, now: datetime | None = None, **_: object) -> None:
    # Fired once per response, inside the transaction that completed it.
    if response.invitation_id is not None:
        mark_completed(response.invitation_id, now=now or utcnow())


def _on_version_published(
    version: SurveyVersion, *, previous: SurveyVersion | None = None, **_: object
) -> None:
    # In the publishing transaction: campaigns that invite to this survey invite to the new version.
    move_campaigns_to_version(version)


def _campaigns_using(survey: Survey, **_: object) -> list[SurveyUse]:
    return [
        SurveyUse(
            "campaign", campaign.id, campaign.name, campaign.status.value, "campaigns.detail", "campaign_id"
        )
        for campaign in campaigns_on_survey(survey.id)
    ]


def connect_signals() -> None:
    contact_opted_out.connect(_on_contact_opted_out)
    contacts_relocated.connect(_on_contacts_relocated)
    response_completed.connect(_on_response_completed)
    competitors_merged.connect(follow_competitor_merge)
    version_published.connect(_on_version_published)
    survey_uses.connect(_campaigns_using)
    listen_for_commits()
    reminder_wordings_asked.connect(campaign_wordings)
