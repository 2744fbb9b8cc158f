"""Signals higher layers listen to (the pipeline) without the call queue importing them."""

from app.signals import signal

# Sent when a caller records the requalified disposition, inside its transaction, after the attempt
# is flushed: sender=the CallAttempt (its .requalification holds the short form), now=datetime.
call_requalified = signal("call-requalified")
