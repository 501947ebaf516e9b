"""Outbound webhooks for integrators: which events go out, recorded with the change that caused them.

``emit`` runs inside the service's transaction and writes one WebhookDelivery row per
matching subscription (an outbox): if the change commits, its deliveries exist and will be
sent; if it rolls back, nothing was promised. Sending happens after commit, in Celery.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from conversations.models import WebhookDelivery, WebhookSubscription


def emit(event_type: str, data: dict[str, Any]) -> None:
    subscriptions = [
        s
        for s in WebhookSubscription.objects.filter(is_active=True).only("pk", "event_types")
        if event_type in s.event_types
    ]
    if not subscriptions:
        return
    now = timezone.now()
    event_id = uuid.uuid4().hex
    payload = {"id": event_id, "type": event_type, "created_at": now.isoformat(), "data": data}
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            subscription_id=subscription.pk,
            event_id=event_id,
            event_type=event_type,
            payload=payload,
            next_attempt_at=now,
        )
        for subscription in subscriptions
    )
    ids = [delivery.pk for delivery in deliveries]
    transaction.on_commit(lambda: _enqueue(ids))


def _enqueue(delivery_ids: list[int]) -> None:
    from conversations.tasks import deliver_webhook

    for delivery_id in delivery_ids:
        deliver_webhook.delay(delivery_id)
