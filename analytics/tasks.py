"""Background work of analytics: keeping the daily rollups up to date."""

from __future__ import annotations

from celery import shared_task

from analytics import recorder


@shared_task(name="analytics.tasks.refresh_rollups", acks_late=True)
def refresh_rollups() -> int:
    """Replay the conversations touched since the last run and recompute their days (idempotent)."""
    return recorder.refresh()
