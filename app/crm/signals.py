"""Signals higher layers listen to (the pipeline links recycled deals) without the CRM importing them."""

from blinker import Namespace

_signals = Namespace()

# Sent after a CRM import or API push wrote opportunities, in its transaction: sender=the source name,
# now=datetime.
opportunities_imported = _signals.signal("crm-opportunities-imported")
