from __future__ import annotations

import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from conversations.models import Conversation, ConversationEvent


def _token() -> str:
    return secrets.token_urlsafe(24)


class CSATResponse(models.Model):
    """A satisfaction survey sent after one resolution, and the customer's answer."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="csat_responses")
    resolution_event = models.OneToOneField(
        ConversationEvent, on_delete=models.PROTECT, related_name="csat", help_text="One survey per resolution."
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="csat_responses"
    )
    token = models.CharField(max_length=64, unique=True, default=_token, editable=False)
    rating = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    comment = models.TextField(blank=True)
    requested_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "CSAT response"
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5), name="csat_rating_1_to_5"
            )
        ]
        indexes = [models.Index(fields=["answered_at"], name="csat_answered_idx")]

    def __str__(self) -> str:
        return f"CSAT {self.rating or '-'} for #{self.conversation_id}"
