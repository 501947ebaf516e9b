"""Background work of analytics: keeping the daily rollups up to date."""

from __future__ import annotations

from celery import shared_task

from analytics import recorder


@shared_task(name="analytics.tasks.refresh_rollups", acks_late=True)
def refresh_rollups() -> int:
    """Replay the conversations touched since the last run and recompute their days (idempotent)."""
    return recorder.refresh()


@shared_task(name="analytics.tasks.send_csat_survey", acks_late=True)
def send_csat_survey(resolution_event_id: int) -> None:
    """Ask for a rating after a resolution (once: the survey is keyed on the resolution)."""
    from analytics.csat import survey_send

    survey_send(resolution_event_id=resolution_event_id)
