"""Signals the codebook sends so higher layers (coding) can react without the core importing them."""

from app.signals import signal

# Sent before a merge moves every reference: sender=the code merged away, survivor=the code kept.
codes_merging = signal("codebook-codes-merging")
# Sent after the merge moved them: sender=the code merged away (now retired), survivor=the code kept.
codes_merged = signal("codebook-codes-merged")
