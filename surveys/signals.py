"""Signals other packages listen to (campaigns, coding, pipeline) without surveys importing them."""

from dataclasses import dataclass

from app.signals import signal

# Sent exactly once per response, when it becomes complete: sender=the Response, now=datetime.
response_completed = signal("survey-response-completed")

# Sent when a draft is published: sender=the new SurveyVersion, previous=the version it retired (or None),
# now=datetime. Campaigns move their new invitations to it; links already sent keep their version.
version_published = signal("survey-version-published")

# Asked before publishing: sender=the Survey; each receiver returns a list of SurveyUse, the things
# (campaigns) whose new invitations will use the newest published version.
survey_uses = signal("survey-uses")

# Asked before reminders are queued: sender=the list of due Invitations; each receiver returns
# {invitation id: ReminderWording, or None: must not be reminded} for the invitations it owns (campaigns:
# their words, None for a paused, draft or finished campaign). See invitations.reminder_wordings.
reminder_wordings_asked = signal("survey-reminder-wordings")


@dataclass(frozen=True)
class SurveyUse:
    kind: str  # "campaign"
    id: int
    name: str
    status: str
    endpoint: str  # where staff read about it: url_for(endpoint, **{id_arg: id})
    id_arg: str


def uses_of(survey) -> list[SurveyUse]:
    """Everything that invites to this survey, as the listening packages report it."""
    return [use for _receiver, uses in survey_uses.send(survey) for use in (uses or [])]
