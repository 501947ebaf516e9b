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


class FactKind(models.TextChoices):
    """What a metric fact measures; see docs/ANALYTICS.md for each definition."""

    CREATED = "created", "New conversation"
    ASSISTANT_STARTED = "assistant_started", "Started with the assistant"
    HANDOFF = "handoff", "Handed off to a person"
    ASSISTANT_RESOLVED = "assistant_resolved", "Resolved by the assistant"
    FIRST_RESPONSE = "first_response", "First response"
    NEXT_RESPONSE = "next_response", "Next response"
    HANDLED = "handled", "Conversation handled by an agent"
    RESOLUTION = "resolution", "Resolution"
    REOPENED = "reopened", "Reopened"
    BACKLOG_IN = "backlog_in", "Entered the backlog"
    BACKLOG_OUT = "backlog_out", "Left the backlog"
    CSAT = "csat", "Satisfaction rating"


class MetricFact(models.Model):
    """One measurement, written when the event that completes it is recorded.

    Derived data: ``rebuild_analytics`` replays conversation events and rewrites these rows, so
    they can always be thrown away and rebuilt. Team and agent are those at the time of the event.
    """

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(ConversationEvent, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=FactKind.choices)
    occurred_at = models.DateTimeField()
    day = models.DateField(help_text="The local date (TIME_ZONE) of occurred_at.")
    inbox_id = models.IntegerField()
    channel = models.CharField(max_length=10)
    team_id = models.IntegerField(null=True)
    agent_id = models.IntegerField(null=True)
    seconds = models.FloatField(null=True, help_text="Wall-clock duration.")
    business_seconds = models.FloatField(null=True, help_text="The same duration counted in business hours.")
    active_seconds = models.FloatField(null=True, help_text="Resolutions: time spent active.")
    amount = models.IntegerField(null=True, help_text="Resolutions: messages; CSAT: the rating.")
    sla_met = models.BooleanField(null=True, help_text="Within the SLA target; empty when there was no target.")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "kind"], name="fact_one_per_event_kind")]
        indexes = [
            models.Index(fields=["day"], name="fact_day_idx"),
            models.Index(fields=["conversation"], name="fact_conversation_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} on #{self.conversation_id} at {self.occurred_at:%Y-%m-%d %H:%M}"


class DailyRollup(models.Model):
    """Sums of the day's facts for one inbox (and so one channel), team and agent.

    Reports add these rows up, so a 90-day report reads a few thousand rows, not millions of
    events. Averages are sums divided by counts, which add up across days and dimensions.
    """

    day = models.DateField()
    inbox_id = models.IntegerField()
    channel = models.CharField(max_length=10)
    team_id = models.IntegerField(null=True)
    agent_id = models.IntegerField(null=True)

    new = models.IntegerField(default=0)
    assistant_started = models.IntegerField(default=0)
    handoffs = models.IntegerField(default=0)
    assistant_resolved = models.IntegerField(default=0)
    reopened = models.IntegerField(default=0)
    backlog_in = models.IntegerField(default=0)
    backlog_out = models.IntegerField(default=0)
    handled = models.IntegerField(default=0)
    first_responses = models.IntegerField(default=0)
    first_response_seconds = models.FloatField(default=0)
    first_response_business_seconds = models.FloatField(default=0)
    next_responses = models.IntegerField(default=0)
    next_response_seconds = models.FloatField(default=0)
    next_response_business_seconds = models.FloatField(default=0)
    resolutions = models.IntegerField(default=0)
    resolution_seconds = models.FloatField(default=0)
    resolution_business_seconds = models.FloatField(default=0)
    resolution_messages = models.IntegerField(default=0)
    resolution_active_seconds = models.FloatField(default=0)
    sla_measured = models.IntegerField(default=0)
    sla_met = models.IntegerField(default=0)
    csat_responses = models.IntegerField(default=0)
    csat_total = models.IntegerField(default=0)
    csat_satisfied = models.IntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["day"], name="rollup_day_idx"),
            models.Index(fields=["team_id", "day"], name="rollup_team_day_idx"),
            models.Index(fields=["inbox_id", "day"], name="rollup_inbox_day_idx"),
            models.Index(fields=["channel", "day"], name="rollup_channel_day_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.day} inbox {self.inbox_id} team {self.team_id} agent {self.agent_id}"


class AnalyticsState(models.Model):
    """A single row: how far the rollup task has read the event log, and when it last ran."""

    last_event_id = models.BigIntegerField(default=0)
    refreshed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"analytics read up to event {self.last_event_id}"
