"""Clocks on the caller's desk: the contact's local time, the window's state, and callback times.

A callback is booked in the contact's time (or the caller's); one outside the campaign's calling
window or days is refused, with the next allowed time offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.crm.places import zone_info
from app.errors import ValidationError
from campaigns.calls.hours import Window, campaign_window, next_opening, parse_zone_key, window_holds
from campaigns.calls.models import CallTask

DAY_ABBREVIATIONS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
CALLBACK_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends


class CallbackOutsideWindow(ValidationError):
    code = "callback_outside_window"

    def __init__(self, message: str, *, next_allowed: datetime | None) -> None:
        super().__init__(message, field="callback_at")
        self.next_allowed = next_allowed


def task_zones(task: CallTask) -> list[str]:
    return parse_zone_key(task.zone_set.zones)[0] if task.zone_set is not None else []


def task_window(task: CallTask) -> Window:
    """The campaign's window narrowed by the contact's state rule and the 8:00–21:00 limit."""
    rule = parse_zone_key(task.zone_set.zones)[1] if task.zone_set is not None else None
    return campaign_window(task.campaign).narrowed(rule)


def place_name(zone: str) -> str:
    """ "Pacific/Honolulu" → "Honolulu"."""
    return zone.rsplit("/", 1)[-1].replace("_", " ")


def describe_days(days) -> str:
    """The calling days in words: "Mon–Fri", "Mon, Wed, Sat"."""
    days = sorted(set(days))
    if not days:
        return "no day"
    if len(days) > 2 and days == list(range(days[0], days[-1] + 1)):
        return f"{DAY_ABBREVIATIONS[days[0]]}–{DAY_ABBREVIATIONS[days[-1]]}"
    return ", ".join(DAY_ABBREVIATIONS[day] for day in days)


def describe_window(window: Window) -> str:
    """ "Mon–Fri, 09:00–17:00": the calling days and hours, as the summary and the refusal say them."""
    return f"{describe_days(window.days)}, {window.start:%H:%M}–{window.end:%H:%M}"


def next_closing(
    zones: list[str], window: Window, now: datetime, *, step_minutes: int = 5
) -> datetime | None:
    """The first moment within a day from `now` (an open window) when the window stops holding."""
    start = now.replace(second=0, microsecond=0)
    start += timedelta(minutes=(step_minutes - start.minute % step_minutes) % step_minutes)
    for step in range(24 * 60 // step_minutes + 1):
        moment = start + timedelta(minutes=step * step_minutes)
        if not window_holds(zones, window, moment):
            return moment
    return None


def duration_text(delta: timedelta) -> str:
    """ "6 h 55", "40 min", "2 d 3 h"."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes:02d}" if hours else f"{minutes} min"


@dataclass(frozen=True)
class ContactClock:
    zone: str
    local: datetime
    is_open: bool
    changes_at: datetime | None  # when the window closes (open) or opens (closed)

    @property
    def place(self) -> str:
        return place_name(self.zone)

    def text(self, now: datetime) -> str:
        """ "14:05 in Honolulu · window closes in 6 h 55"."""
        head = f"{self.local:%H:%M} in {self.place}"
        if self.changes_at is None:
            return f"{head} · window {'open' if self.is_open else 'closed'}"
        verb = "closes" if self.is_open else "opens"
        return f"{head} · window {verb} in {duration_text(self.changes_at - now)}"


def contact_clock(task: CallTask, *, now: datetime) -> ContactClock | None:
    """The contact's local time and calling window now; None when the contact's zone is unknown."""
    zones = task_zones(task)
    info = zone_info(zones[0]) if zones else None
    if info is None:
        return None
    window = task_window(task)
    is_open = window_holds(zones, window, now)
    changes_at = next_closing(zones, window, now) if is_open else next_opening(zones, window, now)
    return ContactClock(zone=zones[0], local=now.astimezone(info), is_open=is_open, changes_at=changes_at)


def callback_zone_name(task: CallTask, caller_zone: str, choice: str) -> str:
    """The zone a typed callback time is in: the contact's unless the caller chose their own."""
    zones = task_zones(task)
    if choice != "mine" and zones and zone_info(zones[0]) is not None:
        return zones[0]
    return caller_zone if zone_info(caller_zone) is not None else "UTC"


def parse_callback(raw: str | None, zone: str) -> datetime | None:
    """A datetime-local value read in `zone`; None when empty or not a date and time."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        local = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if local.tzinfo is None:
        local = local.replace(tzinfo=zone_info(zone) or zone_info("UTC"))
    return local


def check_callback_window(task: CallTask, callback_at: datetime) -> None:
    """Refuse a callback outside the calling window or days, in every zone the contact may be in."""
    zones = task_zones(task)
    if not zones or any(zone_info(zone) is None for zone in zones):
        return  # unknown zone: the queue will not call before a person sets it anyway
    window = task_window(task)
    if window_holds(zones, window, callback_at):
        return
    info = zone_info(zones[0])
    asked = callback_at.astimezone(info)
    following = next_opening(zones, window, callback_at)
    message = (
        f"{asked:%a %d %b %H:%M} in {place_name(zones[0])} is outside the calling window "
        f"({describe_window(window)}, the contact's time)."
    )
    if following is not None:
        message += f" The next allowed time is {following.astimezone(info):%a %d %b %H:%M} there."
    raise CallbackOutsideWindow(message, next_allowed=following)


def allowed_callback_time(task: CallTask, wanted: datetime) -> datetime:
    """`wanted` if the window allows a callback then, else the next time it does."""
    try:
        check_callback_window(task, wanted)
    except CallbackOutsideWindow as refused:
        return refused.next_allowed or wanted
    return wanted


def both_times(task: CallTask, when: datetime | None, viewer_zone: str) -> str:
    """ "Thu 19 Nov 09:00 in Honolulu · 14:00 yours": a callback in the contact's time and the viewer's."""
    if when is None:
        return "—"
    mine = when.astimezone(zone_info(viewer_zone) or zone_info("UTC"))
    zones = task_zones(task)
    info = zone_info(zones[0]) if zones else None
    if info is None:
        return f"{mine:%a %d %b %H:%M} yours ({viewer_zone})"
    theirs = when.astimezone(info)
    mine_text = mine.strftime("%H:%M" if theirs.date() == mine.date() else "%a %d %b %H:%M")
    return f"{theirs:%a %d %b %H:%M} in {place_name(zones[0])} · {mine_text} yours"
