"""How much of a stretch of time fell inside business hours.

A deliberately small, self-contained piece: analytics needs only "how many business seconds
between two instants". The opening intervals are laid out in the schedule's own time zone day by
day, so a daylight-saving change shortens or lengthens that day's hours the way a clock on the
office wall would.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo


class Schedule(Protocol):
    timezone: str
    schedule: Any
    holidays: Any


def _opening_intervals(hours: Schedule, day: date, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    if day.isoformat() in set(hours.holidays or []):
        return []
    intervals = []
    for start_text, end_text in (hours.schedule or {}).get(str(day.isoweekday()), []):
        start = datetime.combine(day, time.fromisoformat(start_text), tzinfo=zone)
        end = datetime.combine(day, time.fromisoformat(end_text), tzinfo=zone)
        intervals.append((start, end))
    return intervals


def business_seconds_between(hours: Schedule | None, start: datetime, end: datetime) -> float:
    """Seconds between ``start`` and ``end`` that fall within ``hours``' opening times.

    ``hours=None`` means always open: the wall-clock seconds. An end before the start is zero.
    """
    if end <= start:
        return 0.0
    if hours is None:
        return (end - start).total_seconds()
    zone = ZoneInfo(hours.timezone or "UTC")
    # A day's intervals are local times; one day of margin on each side covers any offset.
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    total = 0.0
    while day <= last:
        for opens, closes in _opening_intervals(hours, day, zone):
            overlap = (min(closes, end) - max(opens, start)).total_seconds()
            if overlap > 0:
                total += overlap
        day += timedelta(days=1)
    return total
