"""Calling hours: a contact may be called only when the window holds in every zone they may be in.

A contact's candidate zones come from its phone number, its own `timezone` and its address
(`app.crm.places` says how). An unknown zone means "not dialable until a person sets it".
Some US states are stricter, by area code.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from app.crm.places import candidate_zones, zone_info
from campaigns.calls.models import ZONE_KEY_LENGTH

# Whatever a campaign says, nobody is called outside 8:00–21:00 their time.
EARLIEST = time(8, 0)
LATEST = time(21, 0)
STATE_PREFIX = "@"  # a zone-set token naming a state rule, e.g. "@FL"


@dataclass(frozen=True)
class StateRule:
    state: str
    max_per_24h: int
    start: time
    end: time


# Florida (FTSA) and Oklahoma (OTSA): at most 3 calls per 24 hours, 8:00–20:00 local time.
_FL = StateRule("FL", 3, time(8, 0), time(20, 0))
_OK = StateRule("OK", 3, time(8, 0), time(20, 0))
STATE_RULES = {_FL.state: _FL, _OK.state: _OK}
_FL_AREA_CODES = "239 305 321 324 352 386 407 448 561 645 656 689 727 728 754 772 786 813 850 863 904 941 954"
_OK_AREA_CODES = "405 539 572 580 918"
AREA_CODE_STATES = {
    **dict.fromkeys(_FL_AREA_CODES.split(), "FL"),
    **dict.fromkeys(_OK_AREA_CODES.split(), "OK"),
}


@dataclass(frozen=True)
class Window:
    start: time
    end: time
    days: frozenset[int]  # Monday is 0

    def narrowed(self, rule: StateRule | None) -> Window:
        start, end = max(self.start, EARLIEST), min(self.end, LATEST)
        if rule is not None:
            start, end = max(start, rule.start), min(end, rule.end)
        return Window(start, end, self.days)

    def holds(self, local: datetime) -> bool:
        return local.weekday() in self.days and self.start <= local.time() < self.end


def campaign_window(campaign) -> Window:
    days = campaign.calling_days if campaign.calling_days is not None else [0, 1, 2, 3, 4]
    return Window(campaign.calling_window_start, campaign.calling_window_end, frozenset(days))


def state_for_phone(phone: str | None) -> str | None:
    if not phone or not phone.startswith("+1") or len(phone) < 5:
        return None
    return AREA_CODE_STATES.get(phone[2:5])


def state_rule_for_phone(phone: str | None) -> StateRule | None:
    state = state_for_phone(phone)
    return STATE_RULES.get(state) if state else None


def zone_key(
    phone: str | None,
    timezone: str | None,
    *,
    state: str | None = None,
    country: str | None = None,
    account_country: str | None = None,
) -> str | None:
    """What a TimeZoneSet stores for a contact: its zones and its state rule if any; None if unknown."""
    zones = candidate_zones(phone, timezone, state=state, country=country, account_country=account_country)
    if not zones:
        return None
    area_state = state_for_phone(phone)
    key = " ".join(zones + ([STATE_PREFIX + area_state] if area_state in STATE_RULES else []))
    # Longer than any one country's zones can make (the US: 598 characters): zones from two far-apart
    # big countries, which share no calling hour anyway. Unknown: a person sets the contact's zone.
    return key if len(key) <= ZONE_KEY_LENGTH else None


def parse_zone_key(key: str) -> tuple[list[str], StateRule | None]:
    tokens = key.split()
    zones = [token for token in tokens if not token.startswith(STATE_PREFIX)]
    states = [token[1:] for token in tokens if token.startswith(STATE_PREFIX)]
    return zones, (STATE_RULES.get(states[0]) if states else None)


def window_holds(zones: Sequence[str], window: Window, now: datetime) -> bool:
    """True when `now` is inside the window in every zone; never with no zone at all."""
    infos = [zone_info(zone) for zone in zones]
    if not infos or any(info is None for info in infos):
        return False
    return all(window.holds(now.astimezone(info)) for info in infos)


def key_is_open(key: str, window: Window, now: datetime) -> bool:
    zones, rule = parse_zone_key(key)
    return window_holds(zones, window.narrowed(rule), now)


def next_opening(
    zones: Iterable[str], window: Window, now: datetime, *, horizon_days: int = 8
) -> datetime | None:
    """The first quarter hour from now when the window holds in every zone (None within the horizon)."""
    zones = list(zones)
    start = now.replace(second=0, microsecond=0)
    start += timedelta(minutes=(15 - start.minute % 15) % 15)
    for step in range(horizon_days * 24 * 4):
        moment = start + timedelta(minutes=15 * step)
        if window_holds(zones, window, moment):
            return moment
    return None
