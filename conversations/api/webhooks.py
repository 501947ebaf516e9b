"""Webhook subscriptions and their delivery log, for supervisors (``/api/v1/webhooks/``).

An agent who is not a supervisor is refused the collections (403) and sees no single
subscription or delivery (404), as for anything else she may not see.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations import webhooks
from conversations.models import DeliveryOutcome, WebhookDelivery, WebhookEventType, WebhookSubscription
from conversations.selectors import is_supervisor
from conversations.webhook_delivery import private_destinations_allowed


class SupervisorsOnly(BasePermission):
    """Supervisors only. Others may reach object URLs, where an empty queryset answers 404."""

    message = "Only supervisors can manage webhooks."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return is_supervisor(user) or bool(getattr(view, "detail", False))


# --- Serializers ------------------------------------------------------------------------------


class WebhookSubscriptionSerializer(serializers.ModelSerializer):
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEventType.choices),
        allow_empty=False,
        help_text="Event types to send.",
    )
    url = serializers.URLField(max_length=500, help_text="Where the signed events are posted (http or https).")
    secret = serializers.CharField(read_only=True, help_text="Signs every request: verify X-Inbox-Signature with it.")

    class Meta:
        model = WebhookSubscription
        fields = ("id", "url", "description", "event_types", "is_active", "secret", "created_by", "created_at")
        read_only_fields = ("id", "secret", "created_by", "created_at")

    def validate_url(self, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https"):
            raise ValidationError("Use an http or https URL.")
        if parts.username or parts.password:
            raise ValidationError("Credentials in the URL are not supported; verify the signature instead.")
        if not private_destinations_allowed():
            try:
                address = ipaddress.ip_address((parts.hostname or "").strip("[]"))
            except ValueError:
                address = None
            if address is not None and not address.is_global:
                raise ValidationError("Webhooks can only be sent to public addresses.")
        return value


_DELIVERY_FIELDS: tuple[str, ...] = (
    "id",
    "subscription",
    "event_id",
    "event_type",
    "outcome",
    "attempts",
    "status_code",
    "last_error",
    "duration_ms",
    "created_at",
    "last_attempt_at",
    "next_attempt_at",
)


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = _DELIVERY_FIELDS
        read_only_fields = _DELIVERY_FIELDS


class WebhookDeliveryDetailSerializer(WebhookDeliverySerializer):
    class Meta(WebhookDeliverySerializer.Meta):
        fields = (*_DELIVERY_FIELDS, "payload")
        read_only_fields = fields


# --- Views ------------------------------------------------------------------------------------


class WebhookSubscriptionViewSet(viewsets.ModelViewSet):
    """Endpoints that receive signed events (supervisors only)."""

    serializer_class = WebhookSubscriptionSerializer
    permission_classes = (SupervisorsOnly,)
    keyset_ordering = ("-id",)

    def get_queryset(self) -> QuerySet[WebhookSubscription]:
        if getattr(self, "swagger_fake_view", False) or not is_supervisor(self.request.user):
            return WebhookSubscription.objects.none()
        return WebhookSubscription.objects.all()

    def perform_create(self, serializer: Any) -> None:
        data = serializer.validated_data
        serializer.instance = webhooks.subscription_create(
            url=data["url"],
            event_types=data["event_types"],
            description=data.get("description", ""),
            is_active=data.get("is_active", True),
            actor=self.request.user,
        )

    def perform_update(self, serializer: Any) -> None:
        serializer.instance = webhooks.subscription_update(
            subscription=serializer.instance, actor=self.request.user, **serializer.validated_data
        )

    def perform_destroy(self, instance: WebhookSubscription) -> None:
        webhooks.subscription_delete(subscription=instance, actor=self.request.user)


class WebhookDeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """One subscription's delivery log, newest first, filterable by ``outcome`` and ``event_type``."""

    permission_classes = (SupervisorsOnly,)
    keyset_ordering = ("-id",)

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        return WebhookDeliverySerializer if self.action == "list" else WebhookDeliveryDetailSerializer

    def _subscription(self) -> WebhookSubscription:
        if not is_supervisor(self.request.user):
            raise Http404("Not found.")
        return get_object_or_404(WebhookSubscription, pk=self.kwargs["webhook_pk"])

    def get_queryset(self) -> QuerySet[WebhookDelivery]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user, no subscription
            return WebhookDelivery.objects.none()
        subscription = self._subscription()
        deliveries = WebhookDelivery.objects.filter(subscription=subscription)
        params = self.request.query_params
        outcome = params.get("outcome")
        if outcome:
            if outcome not in DeliveryOutcome.values:
                raise ValidationError({"outcome": f"Use one of {', '.join(DeliveryOutcome.values)}."})
            deliveries = deliveries.filter(outcome=outcome)
        event_type = params.get("event_type")
        if event_type:
            if event_type not in WebhookEventType.values:
                raise ValidationError({"event_type": f"Use one of {', '.join(WebhookEventType.values)}."})
            deliveries = deliveries.filter(event_type=event_type)
        return deliveries

    @extend_schema(request=None, responses={202: WebhookDeliveryDetailSerializer})
    @action(detail=True, methods=["post"])
    def redeliver(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Send this event again now, with a fresh retry schedule."""
        delivery = self.get_object()
        try:
            delivery = webhooks.delivery_redeliver(delivery=delivery, actor=request.user)
        except webhooks.RedeliveryRefused as exc:
            raise ValidationError({"non_field_errors": [str(exc)]}) from None
        return Response(WebhookDeliveryDetailSerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
