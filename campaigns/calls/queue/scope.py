"""Which tasks a caller may be given now: their active calls campaigns, and per campaign the zone sets
inside its calling window. Kept a few seconds per process (the claim cache), so a claim is one UPDATE.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from app.auth.models import User
from app.extensions import db
from campaigns.calls.hours import Window, campaign_window, key_is_open
from campaigns.calls.models import TimeZoneSet
from campaigns.models import Campaign, CampaignKind, CampaignStatus, campaign_callers

CALL_KINDS = (CampaignKind.CALL, CampaignKind.BOTH)


def active_call_campaigns() -> list[Campaign]:
    """Every active campaign that calls, in id order."""
    return list(
        db.session.scalars(
            select(Campaign)
            .where(Campaign.status == CampaignStatus.ACTIVE, Campaign.kind.in_(CALL_KINDS))
            .order_by(Campaign.id)
        )
    )


@dataclass(frozen=True)
class CallingMargins:
    """Room the claim leaves: no call starts in the last minutes of a window, and one contact is not
    called twice within a spacing, whatever the campaigns and their cool-downs."""

    window_end: timedelta = timedelta(minutes=5)
    contact_spacing: timedelta = timedelta(minutes=60)

    @classmethod
    def from_config(cls, config=None) -> CallingMargins:
        """CALL_WINDOW_END_MARGIN_MINUTES and CALL_MIN_CONTACT_SPACING_MINUTES (the app's, by default)."""
        config = current_app.config if config is None else config
        return cls(
            timedelta(minutes=max(0, int(config.get("CALL_WINDOW_END_MARGIN_MINUTES", 5)))),
            timedelta(minutes=max(0, int(config.get("CALL_MIN_CONTACT_SPACING_MINUTES", 60)))),
        )


@dataclass
class ClaimScope:
    """Which tasks a caller may be given now: per campaign, the zone sets inside its calling window."""

    open_sets: dict[int, list[int]] = field(default_factory=dict)
    # The claim statement for this scope, per backend (True: PostgreSQL), built on first use.
    statements: dict[bool, object] = field(default_factory=dict, compare=False, repr=False)

    @property
    def empty(self) -> bool:
        return not any(self.open_sets.values())


def caller_campaigns(caller: User | int) -> list[Campaign]:
    caller_id = caller if isinstance(caller, int) else caller.id
    return list(
        db.session.scalars(
            select(Campaign)
            .join(campaign_callers, campaign_callers.c.campaign_id == Campaign.id)
            .where(
                campaign_callers.c.user_id == caller_id,
                Campaign.status == CampaignStatus.ACTIVE,
                Campaign.kind.in_(CALL_KINDS),
            )
            .order_by(Campaign.id)
        )
    )


def claim_scope(
    campaigns: Iterable[Campaign], *, now: datetime, end_margin: timedelta | None = None
) -> ClaimScope:
    """The zone sets open now per campaign; `end_margin` defaults to CALL_WINDOW_END_MARGIN_MINUTES."""
    if end_margin is None:
        end_margin = CallingMargins.from_config().window_end
    zone_sets = db.session.execute(select(TimeZoneSet.id, TimeZoneSet.zones)).all()
    windows = [(campaign.id, campaign_window(campaign)) for campaign in campaigns]
    return _scope(windows, zone_sets, now=now, end_margin=end_margin)


def _scope(
    windows: Iterable[tuple[int, Window]], zone_sets, *, now: datetime, end_margin: timedelta
) -> ClaimScope:
    # Open now and still open `end_margin` later: no call starts in the window's last minutes.
    later = now + end_margin
    scope = ClaimScope()
    for campaign_id, window in windows:
        scope.open_sets[campaign_id] = [
            id_ for id_, key in zone_sets if key_is_open(key, window, now) and key_is_open(key, window, later)
        ]
    return scope


@dataclass
class ClaimCache:
    """What a claim reads besides the queue, kept a few seconds per process (on app.extensions).

    The zone sets, each caller's campaigns, and when expired leases were last released: with them warm,
    a claim is one UPDATE and a COMMIT. A change of assignment or window shows within `ttl` seconds.
    """

    ttl: float = 10.0
    margins: CallingMargins = field(default_factory=CallingMargins)
    zone_sets: list = field(default_factory=list)
    zone_sets_at: float = -1e9
    windows: dict[int, tuple[float, list[tuple[int, Window]]]] = field(default_factory=dict)
    released_at: datetime | None = None
    scopes: dict[tuple, ClaimScope] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # Per caller: (windows read at, zone sets, UTC minute, scope), the scope their last claim used.
    recent: dict[int, tuple[float, list, datetime, ClaimScope]] = field(default_factory=dict)

    def scope(self, caller_id: int, *, now: datetime) -> ClaimScope:
        clock = time.monotonic()
        # Windows start and end on whole minutes, and every zone's offset is whole minutes: the open
        # zone sets stay the same for the whole UTC minute.
        minute = now.replace(second=0, microsecond=0)
        with self.lock:
            recent = self.recent.get(caller_id)
            if (
                recent is not None
                and clock - recent[0] <= self.ttl
                and clock - self.zone_sets_at <= self.ttl
                and recent[1] is self.zone_sets
                and recent[2] == minute
            ):
                return recent[3]  # the common case: the same caller again within the minute
            if clock - self.zone_sets_at > self.ttl:
                self.zone_sets = db.session.execute(select(TimeZoneSet.id, TimeZoneSet.zones)).all()
                self.zone_sets_at = clock
            zone_sets = self.zone_sets
            cached = self.windows.get(caller_id)
        if cached is None or clock - cached[0] > self.ttl:
            cached = (
                clock,
                [(campaign.id, campaign_window(campaign)) for campaign in caller_campaigns(caller_id)],
            )
            with self.lock:
                self.windows[caller_id] = cached
        end_margin = self.margins.window_end
        if self.ttl <= 0:
            return _scope(cached[1], zone_sets, now=now, end_margin=end_margin)
        key = (tuple(cached[1]), tuple(zone_sets), minute)
        with self.lock:
            scope = self.scopes.get(key)
        if scope is None:
            scope = _scope(cached[1], zone_sets, now=now, end_margin=end_margin)
            with self.lock:
                if len(self.scopes) > 1000:
                    self.scopes.clear()
                scope = self.scopes.setdefault(key, scope)
        with self.lock:
            self.recent[caller_id] = (cached[0], zone_sets, minute, scope)
        return scope

    def release_due(self, now: datetime) -> bool:
        with self.lock:
            if self.released_at is not None and abs((now - self.released_at).total_seconds()) < self.ttl:
                return False
            self.released_at = now
            return True


def claim_cache(app) -> ClaimCache:
    """The app's claim cache (created on first use)."""
    cache = app.extensions.get("calls.claim_cache")
    if cache is None:
        cache = app.extensions["calls.claim_cache"] = ClaimCache(
            float(app.config.get("CALL_SCOPE_CACHE_SECONDS", 10)), CallingMargins.from_config(app.config)
        )
    return cache
