"""The assistant's background work. Thin: load by id, call the service, own the retry policy."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import OperationalError

from conversations.models import Message
from routing import routing_tasks as routing_tasks
from routing.services import assistant_process_message

logger = logging.getLogger(__name__)


@shared_task(
    name="routing.tasks.process_inbound_message",
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=2,
    max_retries=3,
)
def process_inbound_message(message_id: int) -> str:
    """Run the assistant for a customer's message (enqueued on commit by the inbound service).

    A retry or a duplicate delivery is harmless: the message is claimed before the backend is
    called and its answer is keyed on it, so it is answered at most once. Backend failures are
    not retried here; the service turns them into a handoff.
    """
    message = Message.objects.filter(pk=message_id).first()
    if message is None:
        return "skipped:gone"
    outcome = assistant_process_message(message=message)
    logger.info("assistant on message %s: %s", message_id, outcome)
    return outcome
