"""The channels a message goes out on (messaging's vocabulary; contacts opt out per channel)."""

from __future__ import annotations

import enum


class Channel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"
    CALL = "call"
    WEBHOOK = "webhook"  # an outgoing webhook to a system (the CRM): never a person's channel


# The channels a person can be reached on, and opt out of.
CONTACT_CHANNELS = (Channel.EMAIL, Channel.SMS, Channel.CALL)
