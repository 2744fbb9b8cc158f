"""Signals higher layers listen to (the pipeline links recycled deals) without the CRM importing them."""

from blinker import Namespace

_signals = Namespace()

# Sent after a CRM import or API push wrote opportunities, in its transaction: sender=the source name,
# now=datetime.
opportunities_imported = _signals.signal("crm-opportunities-imported")

# Sent when contacts' phone, time zone or address (or their account's country) changed, in that
# transaction (import, push API, contact page): sender=None, contact_ids=list[int], now=datetime.
# The call queue re-places their open tasks.
contacts_relocated = _signals.signal("crm-contacts-relocated")
