"""Where a contact may be: which zones the phone, the contact's own zone, the address and the account give."""

from __future__ import annotations

from app.crm.places import candidate_zones, country_zones
from campaigns.calls.hours import zone_key

NEW_YORK = "+12125550123"
TOLL_FREE = "+18005550100"


def test_a_toll_free_number_gives_no_zone_of_its_own():
    assert candidate_zones(TOLL_FREE, None) == []
    assert zone_key(TOLL_FREE, None) is None


def test_a_toll_free_number_is_placed_by_the_address_then_the_account_country():
    assert candidate_zones(TOLL_FREE, None, state="HI", account_country="US") == ["Pacific/Honolulu"]
    assert candidate_zones(TOLL_FREE, None, account_country="GB") == ["Europe/London"]
    assert candidate_zones(TOLL_FREE, None, account_country="US") == list(country_zones("US"))


def test_an_invalid_number_is_not_placed_by_the_account_country():
    assert candidate_zones("+15555550123", None, account_country="US") == []


def test_an_address_in_another_place_than_the_phone_adds_its_zones():
    assert candidate_zones(NEW_YORK, None, state="Hawaii", country="US") == [
        "America/New_York",
        "Pacific/Honolulu",
    ]
    assert candidate_zones("+442079460018", None, country="FR") == ["Europe/London", "Europe/Paris"]


def test_a_country_alone_adds_nothing_when_the_phone_is_already_inside_it():
    assert candidate_zones(NEW_YORK, None, country="US") == ["America/New_York"]


def test_a_state_across_two_zones_counts_both():
    assert candidate_zones(None, None, state="TX", country="US") == ["America/Chicago", "America/Denver"]


def test_the_contacts_own_zone_counts_beside_the_phone():
    assert candidate_zones(NEW_YORK, "Asia/Karachi") == ["America/New_York", "Asia/Karachi"]
