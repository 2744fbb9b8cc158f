"""A new campaign's starting words: invitation, reminder and SMS written for a lost deal.

The words live as files in templates/campaigns/defaults/ (merge fields in {{ double braces }}), not in
Python, so they read as what the customer receives.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from surveys.invitations import MessageTemplates

DEFAULTS_DIR = Path(__file__).parent / "templates" / "campaigns" / "defaults"
# Template field -> file in DEFAULTS_DIR.
DEFAULT_FILES = {
    "email_subject": "invitation_subject.txt",
    "email_text": "invitation.txt",
    "email_html": "invitation.html",
    "reminder_subject": "reminder_subject.txt",
    "reminder_text": "reminder.txt",
    "reminder_html": "reminder.html",
    "sms_text": "sms.txt",
}
# One SMS segment: 160 GSM-7 characters, or 70 when any character needs UCS-2.
SMS_SEGMENT_GSM = 160
SMS_SEGMENT_UCS2 = 70
_GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€"
)


@cache
def default_wording() -> dict[str, str]:
    """The starting text of each template field, as the files hold it."""
    return {
        name: (DEFAULTS_DIR / file).read_text(encoding="utf-8").strip()
        for name, file in DEFAULT_FILES.items()
    }


def default_templates() -> MessageTemplates:
    words = default_wording()
    return MessageTemplates(
        email_subject=words["email_subject"],
        email_text=words["email_text"],
        email_html=words["email_html"],
        sms_text=words["sms_text"],
    )


def sms_segments(text: str) -> int:
    """How many SMS segments a text takes (GSM-7 when every character allows it, else UCS-2)."""
    gsm = all(character in _GSM7 for character in text)
    single, multi = (SMS_SEGMENT_GSM, 153) if gsm else (SMS_SEGMENT_UCS2, 67)
    if len(text) <= single:
        return 1
    return -(-len(text) // multi)
