"""Celery entry points of the email channel: thin, they take ids and call the poller."""

from __future__ import annotations

import dataclasses
from typing import Any

from celery import shared_task

from channels_app.email import poller


@shared_task(name="channels_app.email.tasks.poll_mailboxes", ignore_result=True)
def poll_mailboxes() -> list[int]:
    """Run by beat: queue one poll for each email inbox whose poll interval has passed."""
    due = poller.inboxes_due()
    for inbox_id in due:
        poll_mailbox.delay(inbox_id)
    return due


@shared_task(name="channels_app.email.tasks.poll_mailbox", ignore_result=True, acks_late=True)
def poll_mailbox(inbox_id: int) -> dict[str, Any]:
    """Read one mailbox's new mail. A poll already running for it makes this one return "busy"."""
    return dataclasses.asdict(poller.poll_mailbox(inbox_id=inbox_id))
