"""Calling hours: the window must hold in every zone a contact may be in, on a frozen clock, across DST."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from campaigns.calls.hours import (
    Window,
    candidate_zones,
    key_is_open,
    next_opening,
    state_rule_for_phone,
    window_holds,
    zone_key,
)

WEEKDAYS = frozenset(range(5))
NINE_TO_FIVE = Window(time(9, 0), time(17, 0), WEEKDAYS)
NEW_YORK = "+12125550123"
ALASKA = "+19075550123"  # America/Anchorage and America/Adak
UNKNOWN = "+15555550123"  # no zone known for the number
LONDON = "+442079460123"
MIAMI = "+13055550123"
OKLAHOMA_CITY = "+14055550123"


def open_now(phone: str, at: datetime, window: Window = NINE_TO_FIVE, timezone: str | None = None) -> bool:
    key = zone_key(phone, timezone)
    return key is not None and key_is_open(key, window, at)


def test_a_number_with_several_candidate_zones_keeps_them_all():
    assert candidate_zones(ALASKA, None) == ["America/Adak", "America/Anchorage"]
    assert candidate_zones(NEW_YORK, None) == ["America/New_York"]


def test_the_window_must_hold_in_every_candidate_zone():
    # 18:30 UTC: 9:30 in Anchorage but 8:30 in Adak.
    assert not open_now(ALASKA, datetime(2026, 11, 18, 18, 30, tzinfo=UTC))
    # 19:30 UTC: 10:30 and 9:30.
    assert open_now(ALASKA, datetime(2026, 11, 18, 19, 30, tzinfo=UTC))


def test_the_contacts_own_time_zone_is_a_candidate_too():
    # A New York number whose address says Los Angeles: 12:00 and 9:00 at 17:00 UTC; 16:30 and 13:30 at 21:30.
    assert open_now(NEW_YORK, datetime(2026, 11, 18, 17, 0, tzinfo=UTC), timezone="America/Los_Angeles")
    assert not open_now(NEW_YORK, datetime(2026, 11, 18, 16, 30, tzinfo=UTC), timezone="America/Los_Angeles")


def test_an_unknown_time_zone_is_never_dialable_until_a_person_sets_it():
    assert candidate_zones(UNKNOWN, None) == []
    assert zone_key(UNKNOWN, None) is None
    assert not window_holds([], NINE_TO_FIVE, datetime(2026, 11, 18, 17, 0, tzinfo=UTC))
    assert open_now(UNKNOWN, datetime(2026, 11, 18, 17, 0, tzinfo=UTC), timezone="America/Chicago")


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (datetime(2026, 10, 30, 13, 30, tzinfo=UTC), True),  # Friday before DST ends: 9:30 EDT
        (datetime(2026, 11, 2, 13, 30, tzinfo=UTC), False),  # Monday after: 8:30 EST
        (datetime(2026, 11, 2, 14, 0, tzinfo=UTC), True),  # 9:00 EST
        (datetime(2026, 3, 9, 20, 45, tzinfo=UTC), False),  # Monday after DST starts: 16:45 EDT
    ],
)
def test_new_york_hours_follow_daylight_saving_time(at, expected):
    window = Window(time(9, 0), time(16, 30), WEEKDAYS)
    assert open_now(NEW_YORK, at, window) is expected


def test_london_hours_follow_british_summer_time():
    assert not open_now(LONDON, datetime(2026, 3, 27, 8, 30, tzinfo=UTC))  # 8:30 GMT, Friday
    assert open_now(LONDON, datetime(2026, 3, 30, 8, 30, tzinfo=UTC))  # 9:30 BST, Monday


def test_weekends_are_outside_a_weekday_window():
    saturday_noon_new_york = datetime(2026, 11, 21, 17, 0, tzinfo=UTC)
    assert not open_now(NEW_YORK, saturday_noon_new_york)
    assert open_now(NEW_YORK, saturday_noon_new_york, Window(time(9, 0), time(17, 0), frozenset(range(7))))


def test_no_campaign_window_reaches_outside_8_to_21():
    wide = Window(time(6, 0), time(23, 0), WEEKDAYS)
    assert not open_now(NEW_YORK, datetime(2026, 11, 18, 12, 30, tzinfo=UTC), wide)  # 7:30
    assert not open_now(NEW_YORK, datetime(2026, 11, 19, 2, 30, tzinfo=UTC), wide)  # 21:30
    assert open_now(NEW_YORK, datetime(2026, 11, 19, 1, 30, tzinfo=UTC), wide)  # 20:30


def test_florida_and_oklahoma_numbers_stop_at_20_00():
    wide = Window(time(8, 0), time(21, 0), WEEKDAYS)
    evening = datetime(2026, 11, 19, 1, 30, tzinfo=UTC)  # 20:30 in New York and Miami, 19:30 in Oklahoma
    assert open_now(NEW_YORK, evening, wide)
    assert not open_now(MIAMI, evening, wide)
    assert open_now(OKLAHOMA_CITY, evening, wide)
    assert not open_now(OKLAHOMA_CITY, datetime(2026, 11, 19, 2, 30, tzinfo=UTC), wide)  # 20:30 in Oklahoma
    assert state_rule_for_phone(MIAMI).max_per_24h == 3
    assert state_rule_for_phone(NEW_YORK) is None


def test_the_next_opening_skips_the_weekend():
    friday_evening = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)  # 18:00 in New York
    assert next_opening(["America/New_York"], NINE_TO_FIVE, friday_evening) == datetime(
        2026, 11, 23, 14, 0, tzinfo=UTC
    )
