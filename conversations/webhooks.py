"""Outbound webhooks for integrators: which events go out, recorded with the change that caused them.

``emit`` runs inside the service's transaction and writes one WebhookDelivery row per
matching subscription (an outbox): if the change commits, its deliveries exist and will be
sent; if it rolls back, nothing was promised. Sending happens after commit, in Celery
(``conversations.tasks.deliver_webhook``), one attempt per run:

1. ``delivery_claim`` takes a due delivery with a conditional update that moves its
   ``next_attempt_at`` past the attempt's timeout (a lease), so the beat sweep or a duplicate
   task cannot send it a second time while it is in flight;
2. the task posts it, outside any transaction (``conversations.webhook_delivery``);
3. ``delivery_record_attempt`` records the answer, again conditionally: only if nobody
   recorded this attempt already. A temporary failure is scheduled again after the next
   backoff step; a permanent one, or the last attempt, fails the delivery.

The row is the schedule: a task lost with its broker is picked up by
``sweep_webhook_deliveries`` once its ``next_attempt_at`` is due. Delivery is at least once;
receivers deduplicate on the event id (``X-Inbox-Delivery``).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import logging
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from conversations.models import DeliveryOutcome, WebhookDelivery, WebhookSubscription
from conversations.webhook_delivery import PostOutcome, timeout_seconds

logger = logging.getLogger(__name__)

# Waits after failed attempts 1..5; the 6th failed attempt fails the delivery.
BACKOFF: tuple[timedelta, ...] = (
    timedelta(seconds=10),
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
)
MAX_ATTEMPTS = len(BACKOFF) + 1
# A task scheduled by countdown may run a little before next_attempt_at on a worker whose clock
# is slightly ahead: still take it.
SCHEDULE_SLACK = timedelta(seconds=2)
OPEN_OUTCOMES = (DeliveryOutcome.PENDING, DeliveryOutcome.RETRYING)


class RedeliveryRefused(ValueError):
    """A redelivery that cannot be done, with a message for the person who asked."""


# Inside ``subscriptions_read_once()``: a holder for the subscriptions once read.
_read_once: contextvars.ContextVar[dict[str, list[WebhookSubscription]] | None] = contextvars.ContextVar(
    "webhook_subscriptions_read_once", default=None
)


@contextlib.contextmanager
def subscriptions_read_once() -> Iterator[None]:
    """Read the active subscriptions once for every ``emit`` in the block (one change, several events).

    For a block inside one transaction: a subscription changed meanwhile is seen by the next change.
    """
    token = _read_once.set({})
    try:
        yield
    finally:
        _read_once.reset(token)


def _active_subscriptions() -> list[WebhookSubscription]:
    holder = _read_once.get()
    if holder is not None and "active" in holder:
        return holder["active"]
    subscriptions = list(WebhookSubscription.objects.filter(is_active=True).only("pk", "event_types"))
    if holder is not None:
        holder["active"] = subscriptions
    return subscriptions


def emit(event_type: str, data: dict[str, Any]) -> None:
    subscriptions = [s for s in _active_subscriptions() if event_type in s.event_types]
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


def _enqueue(delivery_ids: Sequence[int]) -> None:
    from conversations.tasks import deliver_webhook

    for delivery_id in delivery_ids:
        deliver_webhook.delay(delivery_id)


# --- Delivery attempts ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery taken for one attempt: everything the sender needs, read when it was claimed."""

    delivery: WebhookDelivery
    url: str
    secret: str
    attempt: int  # 1-based number of the attempt being made


def backoff_after(attempt: int) -> timedelta | None:
    """How long to wait after failed attempt number ``attempt``; None when it was the last."""
    return BACKOFF[attempt - 1] if 1 <= attempt <= len(BACKOFF) else None


def _lease() -> timedelta:
    # Long enough for the whole attempt (connect + send + answer) and the recording after it.
    return timedelta(seconds=timeout_seconds() * 3 + 30)


def delivery_claim(*, delivery_id: int, now: datetime | None = None) -> ClaimedDelivery | None:
    """Take a due delivery for one attempt, or None if it is not due, finished or taken by someone else."""
    now = now or timezone.now()
    delivery = WebhookDelivery.objects.select_related("subscription").filter(pk=delivery_id).first()
    if delivery is None or delivery.outcome not in OPEN_OUTCOMES:
        return None
    if delivery.next_attempt_at is not None and delivery.next_attempt_at > now + SCHEDULE_SLACK:
        return None
    subscription = delivery.subscription
    if not subscription.is_active:
        WebhookDelivery.objects.filter(pk=delivery.pk, attempts=delivery.attempts, outcome__in=OPEN_OUTCOMES).update(
            outcome=DeliveryOutcome.FAILED, next_attempt_at=None, last_error="The subscription is disabled."
        )
        return None
    taken = WebhookDelivery.objects.filter(
        pk=delivery.pk,
        attempts=delivery.attempts,
        outcome__in=OPEN_OUTCOMES,
        next_attempt_at=delivery.next_attempt_at,
    ).update(next_attempt_at=now + _lease())
    if taken != 1:
        return None
    return ClaimedDelivery(delivery, subscription.url, subscription.secret, delivery.attempts + 1)


def delivery_record_attempt(
    *, claimed: ClaimedDelivery, result: PostOutcome, now: datetime | None = None
) -> WebhookDelivery | None:
    """Record one attempt's outcome and schedule the next; None if this attempt was already recorded."""
    now = now or timezone.now()
    attempt = claimed.attempt
    fields: dict[str, Any] = {
        "attempts": attempt,
        "status_code": result.status_code,
        "duration_ms": result.duration_ms,
        "last_attempt_at": now,
        "last_error": result.error,
    }
    wait = backoff_after(attempt)
    if result.delivered:
        fields.update(outcome=DeliveryOutcome.DELIVERED, next_attempt_at=None, last_error="")
    elif result.verdict == "retry" and wait is not None:
        fields.update(outcome=DeliveryOutcome.RETRYING, next_attempt_at=now + wait)
    else:
        fields.update(outcome=DeliveryOutcome.FAILED, next_attempt_at=None)
    recorded = WebhookDelivery.objects.filter(
        pk=claimed.delivery.pk, attempts=attempt - 1, outcome__in=OPEN_OUTCOMES
    ).update(**fields)
    if recorded != 1:
        return None
    if fields["outcome"] == DeliveryOutcome.FAILED:
        logger.warning(
            "webhook delivery %s to %s failed after %s attempt(s): %s",
            claimed.delivery.pk,
            claimed.url,
            attempt,
            result.error,
        )
    return WebhookDelivery.objects.get(pk=claimed.delivery.pk)


def delivery_redeliver(*, delivery: WebhookDelivery, actor: Any) -> WebhookDelivery:
    """Send a delivery again, as a fresh delivery with its own retry schedule, after commit.

    The payload and event id stay the same, so a receiver that did process it the first time
    can recognise the repeat. A delivery already waiting for its next attempt is simply made
    due now.
    """
    now = timezone.now()
    with transaction.atomic():
        locked = WebhookDelivery.objects.select_for_update().select_related("subscription").get(pk=delivery.pk)
        if not locked.subscription.is_active:
            raise RedeliveryRefused("The subscription is disabled; enable it before redelivering.")
        if locked.outcome in OPEN_OUTCOMES:
            locked.next_attempt_at = now
            locked.save(update_fields=["next_attempt_at"])
        else:
            locked.outcome = DeliveryOutcome.PENDING
            locked.attempts = 0
            locked.next_attempt_at = now
            locked.save(update_fields=["outcome", "attempts", "next_attempt_at"])
        logger.info("webhook delivery %s redelivered by %s", locked.pk, getattr(actor, "pk", None))
        delivery_id = locked.pk
        transaction.on_commit(lambda: _enqueue([delivery_id]))
    return locked


def due_delivery_ids(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Open deliveries whose next attempt is due: the beat sweep enqueues them again."""
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(outcome__in=OPEN_OUTCOMES, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


# --- Subscriptions ----------------------------------------------------------------------------


def subscription_create(
    *, url: str, event_types: Sequence[str], actor: Any, description: str = "", is_active: bool = True
) -> WebhookSubscription:
    """A new endpoint for signed events; its secret is generated here and shown to the supervisor."""
    subscription = WebhookSubscription(
        url=url,
        event_types=list(dict.fromkeys(event_types)),
        description=description,
        is_active=is_active,
        created_by=actor,
    )
    subscription.full_clean()
    subscription.save()
    logger.info("webhook subscription %s to %s created by %s", subscription.pk, url, getattr(actor, "pk", None))
    return subscription


def subscription_update(*, subscription: WebhookSubscription, actor: Any, **changes: Any) -> WebhookSubscription:
    """Change an endpoint's url, description, event types or whether it is active."""
    allowed = {"url", "description", "event_types", "is_active"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"cannot change {', '.join(sorted(unknown))}")
    with transaction.atomic():
        locked = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
        for field, value in changes.items():
            setattr(locked, field, list(dict.fromkeys(value)) if field == "event_types" else value)
        locked.full_clean()
        locked.save(update_fields=sorted(changes) or None)
    logger.info("webhook subscription %s changed by %s: %s", locked.pk, getattr(actor, "pk", None), sorted(changes))
    return locked


def subscription_delete(*, subscription: WebhookSubscription, actor: Any) -> None:
    """Remove an endpoint with its delivery log; nothing more is sent to it."""
    logger.info("webhook subscription %s deleted by %s", subscription.pk, getattr(actor, "pk", None))
    subscription.delete()
