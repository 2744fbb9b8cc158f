"""Signals higher layers listen to (the pipeline links recycled deals) without the CRM importing them."""

from app.signals import signal

# Sent after a CRM import or API push wrote opportunities, in its transaction: sender=the source name,
# now=datetime.
opportunities_imported = signal("crm-opportunities-imported")

# Sent after a merge (sender: the survivor; source_id: the competitor merged away), so that packages
# above the core (campaign targeting keeps competitor ids) can follow; crm imports none of them.
competitors_merged = signal("competitors-merged")
