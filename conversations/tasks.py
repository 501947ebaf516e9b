from __future__ import annotations

import logging

from celery import shared_task

from channels_app.transports import TransportError, transport_for
from conversations.models import DeliveryStatus, Message
from conversations.services import message_update_delivery_status

logger = logging.getLogger(__name__)


@shared_task(bind=True, name="conversations.tasks.send_outbound_message", max_retries=6, acks_late=True)
def send_outbound_message(self, message_id: int) -> None:  # type: ignore[no-untyped-def]
    """Hand a queued reply to its channel and record the outcome; temporary failures retry with backoff."""
    message = (
        Message.objects.select_related("conversation__inbox", "conversation__contact").filter(pk=message_id).first()
    )
    if message is None or message.delivery_status != DeliveryStatus.QUEUED:
        return  # gone, or already sent by an earlier run of this task
    try:
        result = transport_for(message.conversation.inbox.kind)(message)
    except TransportError as exc:
        if exc.permanent or self.request.retries >= self.max_retries:
            logger.warning("message %s failed: %s", message_id, exc.reason)
            message_update_delivery_status(message=message, status=DeliveryStatus.FAILED, error=exc.reason)
            return
        raise self.retry(countdown=min(2**self.request.retries * 5, 600)) from exc
    message_update_delivery_status(message=message, status=result.status, channel_message_id=result.channel_message_id)
