"""The assistant's background work. Thin: load by id, call the service, own the retry policy."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import OperationalError

from conversations.models import Message
from core import outbox
from routing import routing_tasks as routing_tasks
from routing.services import assistant_claim_wait, assistant_process_message

logger = logging.getLogger(__name__)


def enqueue_assistant(message_id: int) -> None:
    """Promise the assistant's turn on a customer message in the current transaction (one per message)."""
    outbox.enqueue("routing.tasks.process_inbound_message", message_id, key=f"assistant:{message_id}")


@shared_task(
    bind=True,
    name="routing.tasks.process_inbound_message",
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=2,
    max_retries=3,
)
def process_inbound_message(self, message_id: int) -> str:  # type: ignore[no-untyped-def]
    """Run the assistant for a customer's message (enqueued on commit by the inbound service).

    A retry or a duplicate delivery is harmless: the message is claimed before the backend is
    called and its answer is keyed on it, so it is answered at most once. Backend failures are
    not retried here; the service turns them into a handoff.
    """
    message = Message.objects.filter(pk=message_id).first()
    if message is None:
        return "skipped:gone"
    outcome = assistant_process_message(message=message)
    if outcome == "skipped:claimed":
        wait = assistant_claim_wait(message=message)
        if wait is not None:  # held by a run that may be dead: look again when its claim runs out
            raise self.retry(countdown=wait + 1, max_retries=self.max_retries + self.request.retries + 1)
    logger.info("assistant on message %s: %s", message_id, outcome)
    return outcome
