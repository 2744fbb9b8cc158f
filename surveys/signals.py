"""Signals other packages listen to (campaigns, coding, pipeline) without surveys importing them."""

from blinker import Namespace

_signals = Namespace()

# Sent exactly once per response, when it becomes complete: sender=the Response, now=datetime.
response_completed = _signals.signal("survey-response-completed")
