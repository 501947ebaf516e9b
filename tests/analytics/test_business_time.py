"""Business seconds between two instants: weekends, holidays, split days, time zones, daylight saving."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from analytics.business_time import business_seconds_between

WEEKDAYS_9_TO_5 = {str(d): [["09:00", "17:00"]] for d in range(1, 6)}


def hours(schedule: dict = WEEKDAYS_9_TO_5, tz: str = "UTC", holidays: list[str] | None = None) -> SimpleNamespace:
    return SimpleNamespace(timezone=tz, schedule=schedule, holidays=holidays or [])


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_without_hours_it_is_wall_clock_time() -> None:
    assert business_seconds_between(None, utc("2026-03-06T16:00"), utc("2026-03-09T10:00")) == 66 * 3600


def test_a_weekend_does_not_count() -> None:
    # Friday 16:00 to Monday 10:00: an hour before the weekend, an hour after.
    assert business_seconds_between(hours(), utc("2026-03-06T16:00"), utc("2026-03-09T10:00")) == 2 * 3600


def test_outside_hours_entirely_is_zero() -> None:
    assert business_seconds_between(hours(), utc("2026-03-07T10:00"), utc("2026-03-08T20:00")) == 0


def test_end_before_start_is_zero() -> None:
    assert business_seconds_between(hours(), utc("2026-03-09T12:00"), utc("2026-03-09T10:00")) == 0


def test_holidays_are_closed() -> None:
    closed_monday = hours(holidays=["2026-03-09"])
    assert business_seconds_between(closed_monday, utc("2026-03-06T16:00"), utc("2026-03-10T10:00")) == 2 * 3600


def test_split_days_count_each_interval() -> None:
    lunch_break = hours({"1": [["09:00", "12:00"], ["13:00", "17:00"]]})
    assert business_seconds_between(lunch_break, utc("2026-03-09T11:00"), utc("2026-03-09T14:00")) == 2 * 3600


def test_hours_are_in_the_schedules_time_zone() -> None:
    berlin = hours(tz="Europe/Berlin")  # 09:00 in Berlin is 08:00 UTC in winter
    assert business_seconds_between(berlin, utc("2026-03-09T07:00"), utc("2026-03-09T09:00")) == 3600


def test_daylight_saving_change_keeps_local_opening_times() -> None:
    berlin = hours(tz="Europe/Berlin")
    zone = ZoneInfo("Europe/Berlin")
    # Clocks went forward on Sunday 2026-03-29: Monday opens at 07:00 UTC, not 08:00.
    start = datetime(2026, 3, 27, 16, 0, tzinfo=zone)  # Friday, last business hour
    end = datetime(2026, 3, 30, 10, 0, tzinfo=zone)  # Monday, one hour in
    assert business_seconds_between(berlin, start, end) == 2 * 3600
    assert business_seconds_between(berlin, utc("2026-03-30T07:00"), utc("2026-03-30T08:00")) == 3600
