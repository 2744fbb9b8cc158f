"""Signals higher layers listen to (the pipeline) without the call queue importing them."""

from blinker import Namespace

_signals = Namespace()

# Sent when a caller records the requalified disposition, inside its transaction, after the attempt
# is flushed: sender=the CallAttempt (its .requalification holds the short form), now=datetime.
call_requalified = _signals.signal("call-requalified")
