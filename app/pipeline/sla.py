"""Business days for the service levels: weekends, the country's public holidays, the admin's extra days;
and the rules that say whether a decision or a first touch met its due time (in SQL, for the reports)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

import holidays
from sqlalchemy import and_, or_
from sqlalchemy.sql.expression import ColumnElement

from app.errors import ValidationError


class BusinessCalendar:
    def __init__(self, country: str, extra_days: Iterable[date | str] = ()) -> None:
        try:
            self.holidays = holidays.country_holidays(country.upper())
        except NotImplementedError:
            raise ValidationError(
                f"No public holidays are known for the country code '{country}'.", field="holiday_country"
            ) from None
        self.extra = {day if isinstance(day, date) else date.fromisoformat(day) for day in extra_days}

    def is_business_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.holidays and day not in self.extra

    def add_business_days(self, start: datetime, days: int) -> datetime:
        """The same time of day, `days` business days after start (a weekend start counts from Monday)."""
        day = start.date()
        counted = 0
        while counted < days:
            day += timedelta(days=1)
            if self.is_business_day(day):
                counted += 1
        return datetime.combine(day, start.timetz())


def on_time(done_at, due_at) -> ColumnElement[bool]:
    """Done within its service level: by its due time, or without one (set before the levels existed)."""
    return and_(done_at.is_not(None), or_(due_at.is_(None), done_at <= due_at))
