"""Signals higher layers listen to (the pipeline links recycled deals) without the CRM importing them."""

from app.signals import signal

# Sent after a CRM import or API push wrote opportunities, in its transaction: sender=the source name,
# now=datetime.
opportunities_imported = signal("crm-opportunities-imported")
