"""Time that counts towards an SLA: wall-clock, or only the open hours of a weekly schedule.

A :class:`Schedule` is a ``BusinessHours`` row made arithmetic: opening intervals per ISO weekday
in a time zone, minus holidays. Intervals are read in local time and turned into real instants,
so a day when the clocks change counts the hours that really passed (an 09:00-17:00 day is eight
hours either way; an interval across the skipped or repeated hour is an hour shorter or longer).

The clock starts at the next opening when work arrives while closed, which is what customers
of a business-hours SLA are promised.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from conversations.models import BusinessHours

logger = logging.getLogger(__name__)

# How far ahead an addition looks for open hours before giving up (a schedule open one day a
# year, with that day a holiday, would otherwise loop for ever).
HORIZON_DAYS = 3 * 366


class Clock(Protocol):
    def add(self, start: datetime, duration: timedelta) -> datetime: ...

    def between(self, start: datetime, end: datetime) -> timedelta: ...


class WallClock:
    """Every minute counts."""

    def add(self, start: datetime, duration: timedelta) -> datetime:
        return start + duration

    def between(self, start: datetime, end: datetime) -> timedelta:
        return max(end - start, timedelta(0))


class NeverOpen(ValueError):
    """The schedule has no open hours within the horizon."""


@dataclasses.dataclass(frozen=True)
class Schedule:
    zone: ZoneInfo
    weekly: dict[int, tuple[tuple[time, time], ...]]
    holidays: frozenset[date]

    @classmethod
    def of(cls, hours: BusinessHours) -> Schedule:
        weekly: dict[int, tuple[tuple[time, time], ...]] = {}
        for day, intervals in (hours.schedule or {}).items():
            parsed = sorted(
                (datetime.strptime(start, "%H:%M").time(), datetime.strptime(end, "%H:%M").time())
                for start, end in intervals
            )
            merged: list[tuple[time, time]] = []
            for start, end in parsed:  # overlapping intervals count once
                if merged and start <= merged[-1][1]:
                    merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
                else:
                    merged.append((start, end))
            weekly[int(day)] = tuple(merged)
        holidays = frozenset(date.fromisoformat(day) for day in hours.holidays or [])
        return cls(zone=ZoneInfo(hours.timezone), weekly=weekly, holidays=holidays)

    def _open_on(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """The day's opening intervals as UTC instants."""
        if day in self.holidays:
            return
        for start, end in self.weekly.get(day.isoweekday(), ()):
            opens = datetime.combine(day, start, tzinfo=self.zone).astimezone(UTC)
            closes = datetime.combine(day, end, tzinfo=self.zone).astimezone(UTC)
            if closes > opens:
                yield opens, closes

    def _open_from(self, start: datetime, *, days: int) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals that end after ``start``, in order, clipped to begin no earlier than it."""
        # Begin a day early: the local date of ``start`` may be behind its UTC date.
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        for offset in range(days + 2):
            for opens, closes in self._open_on(day + timedelta(days=offset)):
                if closes > start:
                    yield max(opens, start), closes

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant when ``duration`` of open time has passed since ``start``."""
        remaining = duration
        if remaining <= timedelta(0):
            return start
        for opens, closes in self._open_from(start, days=HORIZON_DAYS):
            if closes - opens >= remaining:
                return opens + remaining
            remaining -= closes - opens
        raise NeverOpen(f"no open hours within {HORIZON_DAYS} days of {start.isoformat()}")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Open time between two instants (zero when ``end`` is not after ``start``)."""
        total = timedelta(0)
        if end <= start:
            return total
        days = (end - start).days + 2
        for opens, closes in self._open_from(start, days=days):
            if opens >= end:
                break
            total += min(closes, end) - opens
        return total


class _FallbackClock(WallClock):
    """A schedule with no open hours at all: counting wall-clock time beats a deadline that never comes."""


def clock_for(hours: BusinessHours | None) -> Clock:
    if hours is None:
        return WallClock()
    schedule = Schedule.of(hours)
    if not any(schedule.weekly.values()):
        logger.warning("business hours %r have no open hours; counting wall-clock time", hours.name)
        return _FallbackClock()
    return schedule


def add_business_minutes(hours: BusinessHours | None, start: datetime, minutes: float) -> datetime:
    """``start`` plus ``minutes`` of counted time (wall-clock when ``hours`` is None)."""
    clock = clock_for(hours)
    try:
        return clock.add(start, timedelta(minutes=minutes))
    except NeverOpen:
        logger.warning("business hours %r never open ahead of %s; counting wall-clock time", hours, start)
        return WallClock().add(start, timedelta(minutes=minutes))


def business_minutes_between(hours: BusinessHours | None, start: datetime, end: datetime) -> float:
    return clock_for(hours).between(start, end).total_seconds() / 60
