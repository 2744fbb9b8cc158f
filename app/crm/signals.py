"""Signals higher layers listen to (the pipeline links recycled deals) without the CRM importing them."""

from app.signals import signal

# Sent after a CRM import or API push wrote opportunities, in its transaction: sender=the source name,
# now=datetime.
opportunities_imported = signal("crm-opportunities-imported")

# Sent after a merge (sender: the survivor; source_id: the competitor merged away), so that packages
# above the core (campaign targeting keeps competitor ids) can follow; crm imports none of them.
competitors_merged = signal("competitors-merged")

# Sent when contacts' phone, time zone or address (or their account's country) changed, in that
# transaction (import, push API, contact page): sender=None, contact_ids=list[int], now=datetime.
# The call queue re-places their open tasks.
contacts_relocated = signal("crm-contacts-relocated")

# Sent when the CRM took a pushed deal, in the sync's transaction: sender=the CRM source, winback_id=str,
# crm_id=the CRM's id for the deal, now=datetime. The pipeline stores the id on its requalification.
deal_pushed = signal("crm-deal-pushed")

# Sent by an import for the Winback IDs on a batch of rows, before they are written: sender=the CRM source,
# numbers=set[int]. A listener answers {number: CRM id of the deal that Winback ID is already linked to};
# a row of another deal claiming it is imported with a warning naming both (the pipeline answers).
winback_ids_linked = signal("crm-winback-ids-linked")
