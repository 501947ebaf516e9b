"""Business-hours arithmetic: adding and counting open time across nights, weekends, holidays and DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from conversations.business_hours import (
    Schedule,
    WallClock,
    add_business_minutes,
    business_minutes_between,
    clock_for,
)
from conversations.models import BusinessHours

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS_9_TO_5 = {str(day): [["09:00", "17:00"]] for day in range(1, 6)}


def hours(schedule: dict | None = None, tz: str = "Europe/Paris", holidays: list[str] | None = None) -> BusinessHours:
    # Unsaved: the arithmetic needs only the fields.
    return BusinessHours(
        name="Office", timezone=tz, schedule=WEEKDAYS_9_TO_5 if schedule is None else schedule, holidays=holidays or []
    )


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def test_minutes_inside_one_open_interval_add_as_wall_clock():
    # Wednesday 2026-06-10, 10:00 in Paris.
    assert add_business_minutes(hours(), paris(2026, 6, 10, 10, 0), 90) == paris(2026, 6, 10, 11, 30)


def test_time_left_at_closing_carries_over_to_the_next_morning():
    # 16:00 + 2 business hours: one hour today, one from 09:00 tomorrow.
    assert add_business_minutes(hours(), paris(2026, 6, 10, 16, 0), 120) == paris(2026, 6, 11, 10, 0)


def test_friday_afternoon_carries_over_the_weekend_to_monday():
    # Friday 2026-06-12 16:30 + 1 hour: 30 minutes Friday, 30 minutes Monday.
    assert add_business_minutes(hours(), paris(2026, 6, 12, 16, 30), 60) == paris(2026, 6, 15, 9, 30)


def test_work_arriving_while_closed_starts_at_the_next_opening():
    # Saturday night: the clock starts Monday 09:00.
    assert add_business_minutes(hours(), paris(2026, 6, 13, 23, 0), 30) == paris(2026, 6, 15, 9, 30)
    # Before opening on a weekday.
    assert add_business_minutes(hours(), paris(2026, 6, 10, 7, 0), 60) == paris(2026, 6, 10, 10, 0)


def test_holidays_are_skipped():
    christmas = hours(holidays=["2026-12-24", "2026-12-25"])
    # Wednesday 2026-12-23 16:00 + 2 hours: Thursday and Friday are holidays, so Monday the 28th.
    assert add_business_minutes(christmas, paris(2026, 12, 23, 16, 0), 120) == paris(2026, 12, 28, 10, 0)


def test_several_intervals_a_day_skip_the_lunch_break():
    split = hours({"1": [["09:00", "12:00"], ["13:00", "17:00"]]})
    # Monday 2026-06-15 11:30 + 1 hour: 30 minutes before lunch, 30 after.
    assert add_business_minutes(split, paris(2026, 6, 15, 11, 30), 60) == paris(2026, 6, 15, 13, 30)


def test_overlapping_intervals_count_once():
    overlapping = hours({"1": [["09:00", "12:00"], ["11:00", "13:00"]]})
    monday = paris(2026, 6, 15, 0, 0)
    assert business_minutes_between(overlapping, monday, monday + timedelta(days=1)) == 4 * 60


def test_a_long_target_spans_weeks():
    # 40 business hours from Monday 09:00 is the next Monday 09:00 (five 8-hour days).
    assert add_business_minutes(hours(), paris(2026, 6, 15, 9, 0), 40 * 60) == paris(2026, 6, 19, 17, 0)
    assert add_business_minutes(hours(), paris(2026, 6, 15, 9, 0), 40 * 60 + 1) == paris(2026, 6, 22, 9, 1)


def test_the_schedule_is_read_in_its_own_time_zone():
    new_york = hours(tz="America/New_York")
    # 14:00 UTC on a June Wednesday is 10:00 in New York (UTC-4): 60 minutes later is 15:00 UTC.
    start = datetime(2026, 6, 10, 14, 0, tzinfo=UTC)
    assert add_business_minutes(new_york, start, 60) == datetime(2026, 6, 10, 15, 0, tzinfo=UTC)
    # 22:00 UTC is 18:00 in New York, closed: next opening is 09:00 New York = 13:00 UTC.
    late = datetime(2026, 6, 10, 22, 0, tzinfo=UTC)
    assert add_business_minutes(new_york, late, 30) == datetime(2026, 6, 11, 13, 30, tzinfo=UTC)


def test_a_day_when_the_clocks_go_forward_keeps_its_local_opening_hours():
    # Paris went from UTC+1 to UTC+2 on Sunday 2026-03-29. Friday 16:00 (UTC+1) + 2 hours:
    # 1 hour on Friday, then Monday 09:00 local, which is now 07:00 UTC.
    start = paris(2026, 3, 27, 16, 0)
    due = add_business_minutes(hours(), start, 120)
    assert due == paris(2026, 3, 30, 10, 0)
    assert due.astimezone(UTC) == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)


def test_an_interval_across_the_skipped_hour_is_an_hour_shorter():
    # Open all Sunday night in New York; on 2026-03-08 02:00 jumps to 03:00.
    night = hours({"7": [["00:00", "06:00"]]}, tz="America/New_York")
    sunday = datetime(2026, 3, 8, 0, 0, tzinfo=NEW_YORK)
    assert business_minutes_between(night, sunday, sunday + timedelta(days=1)) == 5 * 60
    # And the autumn night, when 01:00-02:00 happens twice, is an hour longer.
    autumn = hours({"7": [["00:00", "06:00"]]}, tz="America/New_York")
    november = datetime(2026, 11, 1, 0, 0, tzinfo=NEW_YORK)
    assert business_minutes_between(autumn, november, november + timedelta(days=1)) == 7 * 60


def test_counting_between_two_instants_skips_closed_time():
    # Friday 16:00 to Monday 10:00: one hour Friday, one Monday.
    assert business_minutes_between(hours(), paris(2026, 6, 12, 16, 0), paris(2026, 6, 15, 10, 0)) == 120
    assert business_minutes_between(hours(), paris(2026, 6, 13, 10, 0), paris(2026, 6, 14, 18, 0)) == 0
    assert business_minutes_between(hours(), paris(2026, 6, 15, 10, 0), paris(2026, 6, 15, 9, 0)) == 0


@pytest.mark.parametrize("minutes", [1, 59, 60, 61, 479, 480, 481, 2000, 9999])
def test_adding_then_counting_gives_back_the_minutes(minutes):
    start = paris(2026, 3, 26, 15, 17)  # across the spring DST change
    due = add_business_minutes(hours(holidays=["2026-03-31"]), start, minutes)
    assert business_minutes_between(hours(holidays=["2026-03-31"]), start, due) == pytest.approx(minutes)


def test_wall_clock_when_there_are_no_business_hours():
    start = paris(2026, 6, 13, 23, 0)
    assert isinstance(clock_for(None), WallClock)
    assert add_business_minutes(None, start, 30) == start + timedelta(minutes=30)
    assert business_minutes_between(None, start, start + timedelta(hours=2)) == 120


def test_a_schedule_that_is_never_open_counts_wall_clock_instead_of_never():
    start = paris(2026, 6, 13, 23, 0)
    assert add_business_minutes(hours({}), start, 30) == start + timedelta(minutes=30)


def test_schedule_is_read_from_the_model():
    schedule = Schedule.of(hours(holidays=["2026-12-25"]))
    assert schedule.zone == PARIS
    assert set(schedule.weekly) == {1, 2, 3, 4, 5}
    assert [str(day) for day in schedule.holidays] == ["2026-12-25"]
