"""Signals the codebook sends so higher layers (coding) can react without the core importing them."""

from app.signals import signal

# Sent before a merge moves every reference: sender=the code merged away, survivor=the code kept.
codes_merging = signal("codebook-codes-merging")
# Sent after the merge moved them: sender=the code merged away (now retired), survivor=the code kept.
codes_merged = signal("codebook-codes-merged")
# Sent to preview a merge: sender=the code to merge away, survivor=the code to keep. Each receiver returns
# {"tables": the table names it accounts for, "lines": [(what changes, how many), ...]}.
codes_merge_preview = signal("codebook-codes-merge-preview")
# Sent after a merge was undone: sender=the code brought back, survivor=the code it had been merged into.
codes_unmerged = signal("codebook-codes-unmerged")
# Sent after a code moved under another parent (or to the top) with its sub-codes, by itself or by a merge or
# its undo: sender=the code moved, moved=the ids of it and its sub-codes (their themes may have changed).
codes_moved = signal("codebook-codes-moved")
