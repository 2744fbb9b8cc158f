"""A date far outside any real period (year 1 or 9999, typed into the URL) is explained, not a 500."""

from __future__ import annotations

from datetime import date

import pytest
from werkzeug.datastructures import MultiDict

from app.auth.models import Role
from app.reports.filters import parse_filters

PAGES = (
    "/reports/loss-reasons",
    "/reports/sales-vs-customers",
    "/reports/funnel",
    "/reports/competitors",
    "/reports/sales-follow-up",
    "/reports/callers",
    "/reports/funnel.csv",
    "/reports/callers.csv",
)


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("query", ["from=0001-01-01&to=9999-12-31", "to=9999-12-31", "from=0001-01-01"])
def test_a_date_out_of_any_real_period_is_explained(login, make_user, path, query):
    client = login(make_user(Role.ADMIN))
    response = client.get(f"{path}?{query}")  # a download is refused as its page is (issue #24)
    assert response.status_code == 400
    assert "between 1900 and 2999" in response.get_data(as_text=True)


def test_out_of_range_dates_are_dropped_for_the_default_period():
    args = MultiDict({"from": "0001-01-01", "to": "9999-12-31"})
    filters, errors = parse_filters(args, today=date(2026, 11, 28))
    assert len(errors) == 2
    assert (filters.start, filters.end) == (date(2025, 12, 1), date(2026, 11, 28))
