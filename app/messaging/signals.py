"""Signals other packages listen to without app core importing them (campaigns cancels call tasks)."""

from blinker import Namespace

_signals = Namespace()

# Sent with sender=the Contact, channel=Channel or None (all channels), source=str, now=datetime.
contact_opted_out = _signals.signal("contact-opted-out")
