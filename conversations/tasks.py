from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from channels_app.transports import TransportError, transport_for
from conversations import webhook_delivery, webhooks
from conversations.models import DeliveryOutcome, DeliveryStatus, Message
from conversations.services import message_update_delivery_status

logger = logging.getLogger(__name__)

INTERRUPTED_SEND = (
    "The worker stopped while handing this reply to the channel, so it may or may not have reached the "
    "customer. It was not sent again; check with the customer or send it again."
)


@shared_task(bind=True, name="conversations.tasks.send_outbound_message", max_retries=6, acks_late=True)
def send_outbound_message(self, message_id: int) -> None:  # type: ignore[no-untyped-def]
    """Hand a queued reply to its channel and record the outcome; temporary failures retry with backoff."""
    message = (
        Message.objects.select_related("conversation__inbox", "conversation__contact").filter(pk=message_id).first()
    )
    if message is None or message.delivery_status != DeliveryStatus.QUEUED:
        return  # gone, or already sent by an earlier run of this task
    # Claim the send before calling the channel: a queued message with ``sent_at`` set is being
    # handed over. A run that finds it claimed knows an earlier run stopped in the middle (runs of one
    # send are serialized by its outbox lease); whether that one reached the channel is unknown, so
    # it is never sent again (at most one copy to the customer) but marked failed for an agent to see.
    claimed = Message.objects.filter(pk=message.pk, delivery_status=DeliveryStatus.QUEUED, sent_at=None).update(
        sent_at=timezone.now()
    )
    if not claimed:
        logger.warning("message %s: an earlier send stopped while handing it to the channel", message_id)
        message_update_delivery_status(message=message, status=DeliveryStatus.FAILED, error=INTERRUPTED_SEND)
        return
    try:
        result = transport_for(message.conversation.inbox.kind)(message)
    except TransportError as exc:
        if exc.permanent or self.request.retries >= self.max_retries:
            logger.warning("message %s failed: %s", message_id, exc.reason)
            message_update_delivery_status(message=message, status=DeliveryStatus.FAILED, error=exc.reason)
            return
        # Not sent (the channel said so): free the claim for the retry.
        Message.objects.filter(pk=message.pk, delivery_status=DeliveryStatus.QUEUED).update(sent_at=None)
        raise self.retry(countdown=min(2**self.request.retries * 5, 600)) from exc
    message_update_delivery_status(message=message, status=result.status, channel_message_id=result.channel_message_id)


@shared_task(name="conversations.tasks.deliver_webhook", acks_late=True, ignore_result=True)
def deliver_webhook(delivery_id: int) -> None:
    """One attempt at a webhook delivery; the delivery row, not Celery, holds the retry schedule."""
    claimed = webhooks.delivery_claim(delivery_id=delivery_id)
    if claimed is None:
        return  # not due, finished, or being sent by another run
    result = webhook_delivery.post_signed(
        claimed.url,
        secret=claimed.secret,
        event_type=claimed.delivery.event_type,
        event_id=claimed.delivery.event_id,
        payload=claimed.delivery.payload,
    )
    delivery = webhooks.delivery_record_attempt(claimed=claimed, result=result)
    if delivery is not None and delivery.outcome == DeliveryOutcome.RETRYING and delivery.next_attempt_at:
        # If this message is lost (broker restart), the sweep below enqueues it again when due.
        countdown = max((delivery.next_attempt_at - timezone.now()).total_seconds(), 0)
        deliver_webhook.apply_async((delivery_id,), countdown=countdown)


@shared_task(name="conversations.tasks.sweep_webhook_deliveries", ignore_result=True)
def sweep_webhook_deliveries() -> int:
    """Enqueue every delivery whose next attempt is due (run by beat every minute)."""
    due = webhooks.due_delivery_ids()
    for delivery_id in due:
        deliver_webhook.delay(delivery_id)
    return len(due)


@shared_task(name="conversations.tasks.run_status_timers", ignore_result=True)
def run_status_timers() -> dict[str, int]:
    """Beat, every minute: pending after idling, archive after the delay, wake snoozed conversations."""
    from conversations import timers

    return timers.run_status_timers()


@shared_task(name="conversations.tasks.run_sla_timers", ignore_result=True)
def run_sla_timers() -> dict[str, int]:
    """Beat, every minute: record the SLA warnings and breaches that have come due."""
    from conversations import sla

    return sla.run_sla_timers()


@shared_task(name="conversations.tasks.run_reminders", ignore_result=True)
def run_reminders() -> int:
    """Beat, every minute: notify agents of their follow-up reminders that have come due."""
    from conversations import reminders

    return reminders.run_reminders()


@shared_task(
    bind=True, name="conversations.tasks.send_notification_email", max_retries=5, acks_late=True, ignore_result=True
)
def send_notification_email(  # type: ignore[no-untyped-def]
    self, user_id: int, title: str, body: str, conversation_id: int | None, notification_id: int | None
) -> None:
    """Email one notification (queued after the commit that made it); SMTP failures retry with backoff."""
    from conversations import notifications

    try:
        notifications.send_email(
            user_id=user_id, title=title, body=body, conversation_id=conversation_id, notification_id=notification_id
        )
    except OSError as exc:
        if self.request.retries >= self.max_retries:
            logger.warning("notification email to user %s failed: %s", user_id, exc)
            return
        raise self.retry(countdown=min(2**self.request.retries * 30, 900)) from exc


@shared_task(name="conversations.tasks.notify_new_conversation", acks_late=True, ignore_result=True)
def notify_new_conversation(conversation_id: int, preview: str) -> None:
    """Notify the inbox's members of a new conversation (an outbox entry written with the conversation)."""
    from conversations import notifications

    notifications.new_conversation_notify(conversation_id=conversation_id, preview=preview)
