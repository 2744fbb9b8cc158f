"""Signals other packages listen to without app core importing them (campaigns cancels call tasks)."""

from app.signals import signal

# Sent with sender=the Contact, channel=Channel or None (all channels), source=str, now=datetime.
contact_opted_out = signal("contact-opted-out")
