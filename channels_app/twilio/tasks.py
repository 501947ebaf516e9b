"""The inbound worker's half of a Twilio message (see ``inbound``). Thin: load, call, own the retries."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from celery import shared_task
from django.db import OperationalError

from channels_app.twilio import inbound
from conversations.models import Inbox
from conversations.services import ServiceError
from core import outbox

logger = logging.getLogger(__name__)

PROCESS_MESSAGE = "channels_app.twilio.tasks.process_inbound_message"


def enqueue_message(inbox: Inbox, fields: Mapping[str, str]) -> None:
    """Promise the message's storing for when the current transaction commits (the webhook's one INSERT)."""
    outbox.enqueue(PROCESS_MESSAGE, inbox.pk, dict(fields), batched=True)


@shared_task(
    bind=True,
    name=PROCESS_MESSAGE,
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=2,
    max_retries=5,
)
def process_inbound_message(self, inbox_id: int, fields: dict[str, str]) -> str:  # type: ignore[no-untyped-def]
    """Store a message the webhook accepted. A duplicate delivery is recognised by its MessageSid."""
    inbox = Inbox.objects.filter(pk=inbox_id).first()
    if inbox is None:
        logger.error("Twilio message %s dropped: inbox %s no longer exists", fields.get("MessageSid"), inbox_id)
        return "skipped:gone"
    try:
        outcome = inbound.receive_message(inbox, fields)
    except ServiceError as exc:
        # Checked at the webhook already; only a change since (an identity merged away, say) gets here.
        logger.error("Twilio message %s for inbox %s not stored: %s", fields.get("MessageSid"), inbox_id, exc)
        return "refused"
    logger.debug("Twilio message %s for inbox %s: %s", fields.get("MessageSid"), inbox_id, outcome)
    return outcome
