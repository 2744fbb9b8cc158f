"""What Twilio tells about a call besides its status: the answering-machine verdict, the recording;
and the voicemail drop, which leaves the campaign's message and moves the caller on."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from app.auth.models import User
from app.errors import Conflict
from campaigns.calls.dialing import DialLimits, current_attempt
from campaigns.calls.dispositions import record_disposition
from campaigns.calls.health import HealthRules
from campaigns.calls.models import CallAttempt, CallTask, Disposition
from campaigns.calls.voice import FINAL_STATUSES
from campaigns.models import Campaign

# Twilio's AnsweredBy values that mean nobody picked up in person.
MACHINE_ANSWERS = frozenset(
    {"machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax"}
)
ANSWERS = MACHINE_ANSWERS | {"human", "unknown"}
SID_LENGTH = 64


class NoVoicemail(Conflict):
    code = "no_voicemail"


def has_voicemail(campaign: Campaign) -> bool:
    return bool(campaign.voicemail_audio_url or campaign.voicemail_text)


def note_contact_leg(attempt: CallAttempt, form: Mapping[str, str]) -> None:
    """Keep the SID of the leg to the contact (a <Number>'s callbacks carry it, with the parent's)."""
    sid = (form.get("CallSid") or "").strip()
    if sid and len(sid) <= SID_LENGTH and sid != attempt.twilio_call_sid and attempt.contact_call_sid is None:
        attempt.contact_call_sid = sid


def apply_machine_detection(attempt: CallAttempt, form: Mapping[str, str]) -> None:
    """The asynchronous answering-machine verdict: a machine suggests the voicemail disposition."""
    note_contact_leg(attempt, form)
    answered_by = (form.get("AnsweredBy") or "").strip()
    if answered_by not in ANSWERS:
        return
    attempt.answered_by = answered_by
    if answered_by in MACHINE_ANSWERS:
        attempt.suggested_disposition = Disposition.VOICEMAIL


def apply_recording(attempt: CallAttempt, form: Mapping[str, str]) -> None:
    """Twilio finished a recording of this call: keep where it is (played through the supervisor page)."""
    sid = (form.get("RecordingSid") or "").strip()
    url = (form.get("RecordingUrl") or "").strip()
    if (form.get("RecordingStatus") or "completed") != "completed" or not sid.startswith("RE"):
        return
    if len(sid) > SID_LENGTH or not url.startswith("https://api.twilio.com/") or len(url) > 500:
        return
    duration = (form.get("RecordingDuration") or "").strip()
    attempt.recording_sid = sid
    attempt.recording_url = url
    attempt.recording_seconds = int(duration) if duration.isascii() and duration.isdigit() else None


def drop_voicemail(
    task: CallTask,
    caller: User,
    *,
    now: datetime,
    lease_seconds: int,
    limits: DialLimits,
    health: HealthRules | None = None,
    notes: str | None = None,
) -> CallAttempt:
    """Record "voicemail left" on the live call; the view then plays the message on the contact's leg.

    The caller's own leg is not hung up here: taking the contact's leg out of the bridge ends it.
    """
    campaign = task.campaign
    if not has_voicemail(campaign):
        raise NoVoicemail("This campaign has no voicemail message to leave.")
    attempt = current_attempt(task)
    if attempt is None or attempt.contact_call_sid is None or attempt.twilio_status in FINAL_STATUSES:
        raise NoVoicemail("There is no live call to leave the voicemail on.")
    return record_disposition(
        task,
        caller,
        Disposition.VOICEMAIL,
        now=now,
        lease_seconds=lease_seconds,
        notes="\n".join(part for part in ((notes or "").strip(), "Voicemail dropped.") if part),
        limits=limits,
        health=health,
        hang_up=False,
    )
