"""The call queue: filling it (the hopper) and claiming from it (the reservation), as two steps.

`filling` creates and cancels tasks; `scope` says which tasks a caller may be given now; `claiming`
leases one atomically; `leases` keeps and releases leases; `counts` is what the supervisor sees.
"""

from campaigns.calls.queue.claiming import claim_next_task
from campaigns.calls.queue.counts import (
    CALLBACK_BOOST,
    QueueCounts,
    callback_priority,
    callbacks_due_today,
    queue_counts,
)
from campaigns.calls.queue.filling import (
    FillResult,
    ZoneSets,
    base_priority,
    cancel_contact_tasks,
    cancel_tasks,
    fill_campaign,
    fill_queue,
    refresh_contact_zones,
)
from campaigns.calls.queue.leases import (
    DEFAULT_LEASE_SECONDS,
    LeaseLost,
    held_task,
    release_expired_leases,
    release_task,
    touch_lease,
)
from campaigns.calls.queue.scope import (
    CALL_KINDS,
    CallingMargins,
    ClaimCache,
    ClaimScope,
    active_call_campaigns,
    caller_campaigns,
    claim_cache,
    claim_scope,
)

__all__ = [
    "CALLBACK_BOOST",
    "CALL_KINDS",
    "DEFAULT_LEASE_SECONDS",
    "CallingMargins",
    "ClaimCache",
    "ClaimScope",
    "FillResult",
    "LeaseLost",
    "QueueCounts",
    "ZoneSets",
    "active_call_campaigns",
    "base_priority",
    "callback_priority",
    "callbacks_due_today",
    "caller_campaigns",
    "cancel_contact_tasks",
    "cancel_tasks",
    "claim_cache",
    "claim_next_task",
    "claim_scope",
    "fill_campaign",
    "fill_queue",
    "held_task",
    "queue_counts",
    "refresh_contact_zones",
    "release_expired_leases",
    "release_task",
    "touch_lease",
]
