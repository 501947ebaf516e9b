"""How much of a stretch of time fell inside business hours, in seconds.

The SLA clock's own arithmetic (``conversations/business_hours.py``: weekly schedule in its time
zone, holidays, daylight saving), so a metric and an SLA deadline can never count hours differently.
"""

from __future__ import annotations

from datetime import datetime

from conversations.business_hours import clock_for
from conversations.models import BusinessHours

Schedule = BusinessHours


def business_seconds_between(hours: Schedule | None, start: datetime, end: datetime) -> float:
    """Seconds between ``start`` and ``end`` within ``hours``' opening times (wall-clock when None; 0 if reversed)."""
    return clock_for(hours).between(start, end).total_seconds()
