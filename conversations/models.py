"""The support domain: contacts, inboxes, conversations, messages, and everything around them.

State changes go through ``conversations.services``; these models only describe the data.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from conversations import channel_config, identities

User = settings.AUTH_USER_MODEL


def _token() -> str:
    return secrets.token_urlsafe(24)


# --- Choices ---------------------------------------------------------------------------------


class ChannelKind(models.TextChoices):
    WEBCHAT = "webchat", "Web chat"
    SMS = "sms", "SMS"
    WHATSAPP = "whatsapp", "WhatsApp"
    EMAIL = "email", "Email"
    VOICE = "voice", "Voice"
    API = "api", "API"


class IdentityKind(models.TextChoices):
    PHONE = "phone", "Phone"
    EMAIL = "email", "Email"
    WHATSAPP = "whatsapp", "WhatsApp"
    WEB_VISITOR = "web_visitor", "Web visitor"
    API = "api", "API id"


class Status(models.TextChoices):
    ACTIVE = "active", "Active"
    PENDING = "pending", "Pending"
    RESOLVED = "resolved", "Resolved"
    ARCHIVED = "archived", "Archived"


OPEN_STATUSES = (Status.ACTIVE, Status.PENDING)
CLOSED_STATUSES = (Status.RESOLVED, Status.ARCHIVED)
OPEN_Q = Q(status__in=["active", "pending"])  # the partial indexes' condition (a literal list: migrations compare it)


class Handler(models.TextChoices):
    BOT = "bot", "Assistant"
    HUMAN = "human", "Human"


class Priority(models.IntegerChoices):
    """Stored as a rank so that sorting by priority uses an index; exposed by name."""

    LOW = 1, "low"
    NORMAL = 2, "normal"
    HIGH = 3, "high"
    URGENT = 4, "urgent"

    @classmethod
    def from_name(cls, name: str) -> Priority:
        try:
            return cls[name.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown priority {name!r}; use one of urgent, high, normal, low") from None


class Direction(models.TextChoices):
    INBOUND = "in", "Inbound"
    OUTBOUND = "out", "Outbound"


class SenderKind(models.TextChoices):
    CONTACT = "contact", "Contact"
    AGENT = "agent", "Agent"
    ASSISTANT = "assistant", "Assistant"
    SYSTEM = "system", "System"


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    READ = "read", "Read"
    FAILED = "failed", "Failed"


# How far along delivery is: a status may only be replaced by one further along.
DELIVERY_RANK: dict[str, int] = {
    DeliveryStatus.QUEUED: 0,
    DeliveryStatus.SENT: 1,
    DeliveryStatus.FAILED: 2,
    DeliveryStatus.DELIVERED: 3,
    DeliveryStatus.READ: 4,
}


class Availability(models.TextChoices):
    ONLINE = "online", "Online"
    BUSY = "busy", "Busy"
    OFFLINE = "offline", "Offline"


class AssignmentStrategy(models.TextChoices):
    MANUAL = "manual", "Manual (queue only)"
    ROUND_ROBIN = "round_robin", "Round-robin"
    CAPACITY = "capacity", "Capacity-based (fewest active)"
    SKILL = "skill", "Skill-based"
    CHANNEL = "channel", "Channel-based"


class AssistantMode(models.TextChoices):
    AUTO_REPLY = "auto_reply", "Answer automatically"
    DRAFT = "draft", "Draft for an agent to review"


class NotificationKind(models.TextChoices):
    NEW_CONVERSATION = "new_conversation", "New conversation"
    ASSIGNED = "assigned", "Assigned to you"
    CUSTOMER_REPLIED = "customer_replied", "Customer replied"
    URGENT = "urgent", "Urgent conversation"
    HANDOFF = "handoff", "Escalation / handoff"
    SLA_WARNING = "sla_warning", "SLA warning"
    SLA_BREACH = "sla_breach", "SLA breach"
    REMINDER = "reminder", "Follow-up reminder"


class EventKind(models.TextChoices):
    CREATED = "created", "Conversation created"
    MESSAGE_IN = "message_in", "Message received"
    MESSAGE_OUT = "message_out", "Reply sent"
    NOTE = "note", "Internal note"
    DELIVERY = "delivery", "Delivery status"
    ASSIGNED = "assigned", "Assigned"
    UNASSIGNED = "unassigned", "Unassigned"
    TRANSFERRED = "transferred", "Transferred"
    STATUS = "status", "Status changed"
    PRIORITY = "priority", "Priority changed"
    TAGGED = "tagged", "Tags changed"
    HANDOFF = "handoff", "Handed off to a human"
    TAKEN_OVER = "taken_over", "Taken over by an agent"
    SNOOZED = "snoozed", "Snoozed"
    CONTACT_MERGED = "contact_merged", "Contact merged"
    TOPIC = "topic", "Topic set"
    RULE_APPLIED = "rule_applied", "Routing rule applied"
    SLA_WARNING = "sla_warning", "SLA warning"
    SLA_BREACH = "sla_breach", "SLA breach"
    SLA_MET = "sla_met", "SLA met"
    SLA_MISSED = "sla_missed", "SLA missed"
    ASSISTANT_RESOLVED = "assistant_resolved", "Resolved by the assistant"
    CSAT = "csat", "Satisfaction rating"
    SLA_POLICY = "sla_policy", "SLA policy set"
    REASSIGNED = "reassigned", "Reassigned (no reply)"


# --- People and organisation -----------------------------------------------------------------


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    assignment_strategy = models.CharField(
        max_length=20, choices=AssignmentStrategy.choices, default=AssignmentStrategy.ROUND_ROBIN
    )
    reassign_after_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Hand a conversation back to routing when its assignee has not replied."
    )
    supervisors: models.ManyToManyField[Any, Any] = models.ManyToManyField(
        User, blank=True, related_name="supervised_teams"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def default_notification_preferences() -> dict[str, dict[str, bool]]:
    return {kind.value: {"in_app": True, "email": kind in _EMAIL_BY_DEFAULT} for kind in NotificationKind}


def preferences_want(preferences: dict[str, Any] | None, kind: str, medium: str) -> bool:
    """Whether an agent's chosen preferences (None or missing types: the defaults) ask for ``kind`` by ``medium``."""
    chosen = (preferences or {}).get(kind) or default_notification_preferences().get(kind, {})
    return bool(chosen.get(medium, False))


_EMAIL_BY_DEFAULT = {NotificationKind.ASSIGNED, NotificationKind.SLA_BREACH, NotificationKind.URGENT}


class AgentProfile(models.Model):
    """What routing and notifications need to know about a user who answers customers."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="agent_profile")
    display_name = models.CharField(max_length=100, blank=True)
    availability = models.CharField(max_length=10, choices=Availability.choices, default=Availability.OFFLINE)
    capacity = models.PositiveSmallIntegerField(
        default=5, validators=[MaxValueValidator(500)], help_text="Most active conversations at once."
    )
    skills = models.JSONField(default=list, blank=True, help_text='e.g. ["billing", "technical"]')
    languages = models.JSONField(default=list, blank=True, help_text='ISO codes, e.g. ["en", "es"]')
    channels = models.JSONField(default=list, blank=True, help_text="Channel kinds taken by channel-based routing.")
    teams = models.ManyToManyField(Team, blank=True, related_name="agents")
    notification_preferences = models.JSONField(default=default_notification_preferences, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    availability_changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["availability"], name="agent_availability_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        user: Any = self.user
        return self.display_name or user.get_full_name() or user.get_username()

    def clean(self) -> None:
        for field in ("skills", "languages", "channels"):
            value = getattr(self, field)
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise ValidationError({field: "Must be a list of strings."})
        unknown = set(self.channels) - set(ChannelKind.values)
        if unknown:
            raise ValidationError({"channels": f"Unknown channel kinds: {', '.join(sorted(unknown))}."})
        if not isinstance(self.notification_preferences, dict):
            raise ValidationError({"notification_preferences": "Must be an object of notification types."})

    def wants(self, kind: str, medium: str) -> bool:
        return preferences_want(self.notification_preferences, kind, medium)


# --- Schedules and SLAs ---------------------------------------------------------------------


class BusinessHours(models.Model):
    """A weekly schedule in a time zone, with holidays.

    ``schedule`` maps ISO weekday numbers (1 Monday .. 7 Sunday) to lists of
    ``["HH:MM", "HH:MM"]`` opening intervals; a missing day is closed.
    """

    name = models.CharField(max_length=100, unique=True)
    timezone = models.CharField(max_length=64, default="UTC")
    schedule = models.JSONField(default=dict)
    holidays = models.JSONField(default=list, blank=True, help_text='Dates when closed, e.g. ["2026-12-25"].')

    class Meta:
        verbose_name_plural = "business hours"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError({"timezone": f"Unknown time zone {self.timezone!r}."}) from None
        if not isinstance(self.schedule, dict):
            raise ValidationError({"schedule": "Must map weekday numbers 1-7 to lists of [start, end] times."})
        for day, intervals in self.schedule.items():
            if str(day) not in {"1", "2", "3", "4", "5", "6", "7"}:
                raise ValidationError({"schedule": f"Weekday {day!r} is not 1 (Monday) to 7 (Sunday)."})
            for interval in intervals if isinstance(intervals, list) else [None]:
                if not (isinstance(interval, list) and len(interval) == 2):
                    raise ValidationError({"schedule": f'Day {day}: each interval is ["HH:MM", "HH:MM"].'})
                try:
                    start, end = (datetime.strptime(value, "%H:%M").time() for value in interval)
                except (TypeError, ValueError):
                    raise ValidationError({"schedule": f"Day {day}: times must be HH:MM, got {interval}."}) from None
                if start >= end:
                    raise ValidationError({"schedule": f"Day {day}: {interval[0]} is not before {interval[1]}."})
        holidays: list[Any] = self.holidays if isinstance(self.holidays, list) else [None]
        for holiday in holidays:
            try:
                datetime.strptime(holiday, "%Y-%m-%d")
            except (TypeError, ValueError):
                raise ValidationError({"holidays": f"Holidays are YYYY-MM-DD dates, got {holiday!r}."}) from None


class SLAPolicy(models.Model):
    name = models.CharField(max_length=100, unique=True)
    first_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    next_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    resolution_minutes = models.PositiveIntegerField(null=True, blank=True)
    business_hours = models.ForeignKey(
        BusinessHours,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        help_text="Count only business hours; leave empty for wall-clock time.",
    )
    warning_fraction = models.FloatField(
        default=0.8, validators=[MinValueValidator(0.05), MaxValueValidator(0.99)], help_text="Warn at this share."
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not any((self.first_response_minutes, self.next_response_minutes, self.resolution_minutes)):
            raise ValidationError("Set at least one target (first response, next response or resolution).")


# --- Inboxes ---------------------------------------------------------------------------------


class Inbox(models.Model):
    """One connected channel: a Twilio number, a mailbox, a website widget, a voice line, an API source."""

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=ChannelKind.choices)
    config = models.JSONField(default=dict, blank=True, help_text="Channel settings; see the README per kind.")
    credentials = models.JSONField(default=dict, blank=True, help_text="Secrets (passwords, tokens); never listed.")
    webhook_token = models.CharField(max_length=64, unique=True, default=_token, editable=False)
    widget_secret = models.CharField(max_length=64, default=_token, editable=False)
    members: models.ManyToManyField[Any, Any] = models.ManyToManyField(User, blank=True, related_name="inboxes")
    default_team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    business_hours = models.ForeignKey(BusinessHours, null=True, blank=True, on_delete=models.SET_NULL)
    sla_policy = models.ForeignKey(SLAPolicy, null=True, blank=True, on_delete=models.SET_NULL)
    assignment_strategy = models.CharField(
        max_length=20, choices=AssignmentStrategy.choices, blank=True, help_text="Empty: use the team's strategy."
    )
    # Auto-status timers.
    pending_after_minutes = models.PositiveIntegerField(
        default=60, help_text="An active conversation with no new message for this long becomes pending."
    )
    archive_after_days = models.PositiveIntegerField(
        default=7, help_text="A resolved conversation becomes archived after this many days."
    )
    # Assistant settings.
    assistant_enabled = models.BooleanField(default=True)
    assistant_mode = models.CharField(max_length=12, choices=AssistantMode.choices, default=AssistantMode.AUTO_REPLY)
    handoff_keywords = models.JSONField(default=list, blank=True)
    fallback_handoff_after = models.PositiveSmallIntegerField(
        default=2, help_text="Hand off after this many low-confidence answers in a row."
    )
    confidence_threshold = models.FloatField(default=0.5, validators=[MinValueValidator(0), MaxValueValidator(1)])
    intake_questions = models.JSONField(default=list, blank=True, help_text="Asked by the assistant, then handoff.")
    csat_enabled = models.BooleanField(default=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name_plural = "inboxes"
        ordering = ["name"]
        indexes = [models.Index(fields=["kind"], name="inbox_kind_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    def clean(self) -> None:
        try:
            self.config = channel_config.validate(self.kind, self.config)
        except channel_config.ConfigError as exc:
            raise ValidationError({"config": str(exc)}) from None
        for field in ("handoff_keywords", "intake_questions"):
            value = getattr(self, field)
            if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
                raise ValidationError({field: "Must be a list of non-empty strings."})

    @property
    def typed_config(self) -> channel_config.ChannelConfig:
        return channel_config.parse(self.kind, self.config)


# --- Contacts --------------------------------------------------------------------------------


class Contact(models.Model):
    name = models.CharField(max_length=200, blank=True)
    language = models.CharField(max_length=16, blank=True)
    location = models.CharField(max_length=200, blank=True)
    segment = models.CharField(max_length=50, blank=True, help_text="e.g. vip, enterprise, trial")
    custom_attributes = models.JSONField(default=dict, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_contacts", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["name"], name="contact_name_idx"),
            models.Index(fields=["-created_at"], name="contact_created_idx"),
        ]

    def __str__(self) -> str:
        return self.name or f"Contact #{self.pk}"

    @property
    def is_vip(self) -> bool:
        return self.segment.lower() == "vip"


class ChannelIdentity(models.Model):
    """A way to reach a contact. Each (kind, normalized value) belongs to exactly one contact."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(max_length=12, choices=IdentityKind.choices)
    value = models.CharField(max_length=320)
    verified = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name_plural = "channel identities"
        constraints = [models.UniqueConstraint(fields=["kind", "value"], name="identity_unique_kind_value")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.value}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.value = identities.normalize(self.kind, self.value)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        try:
            self.value = identities.normalize(self.kind, self.value)
        except identities.InvalidIdentity as exc:
            raise ValidationError({"value": str(exc)}) from None


# --- Conversations ---------------------------------------------------------------------------


class Tag(models.Model):
    name = models.CharField(max_length=50, unique=True)
    color = models.CharField(max_length=7, default="#64748b", help_text="#rrggbb")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        import re

        self.name = self.name.strip().lower()
        if not re.fullmatch(r"[\w][\w .:/-]{0,49}", self.name):
            raise ValidationError({"name": "Tags are letters, digits, spaces and . : / - _"})
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", self.color):
            raise ValidationError({"color": "Colors are #rrggbb."})


class Conversation(models.Model):
    inbox = models.ForeignKey(Inbox, on_delete=models.PROTECT, related_name="conversations")
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="conversations")
    subject = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    handler = models.CharField(max_length=5, choices=Handler.choices, default=Handler.BOT)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    assignee = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_conversations"
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations")
    tags = models.ManyToManyField(Tag, blank=True, related_name="conversations")
    topic = models.CharField(max_length=50, blank=True)
    summary = models.TextField(blank=True)
    language = models.CharField(max_length=16, blank=True)
    assistant_state = models.JSONField(default=dict, blank=True, help_text="Fallback count, intake progress, ...")

    # Times that metrics, SLAs and timers need.
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    status_changed_at = models.DateTimeField(default=timezone.now)
    handed_off_at = models.DateTimeField(null=True, blank=True)
    assigned_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    waiting_since = models.DateTimeField(
        null=True, blank=True, help_text="When the customer's oldest unanswered message arrived."
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    # SLA.
    sla_policy = models.ForeignKey(SLAPolicy, null=True, blank=True, on_delete=models.SET_NULL)
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    next_response_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    # Per target (first_response, next_response, resolution) of the current cycle: when it started,
    # when it warns and is due, whether the warning and breach were recorded, and its outcome.
    # Maintained only by ``conversations.sla``.
    sla_targets = models.JSONField(default=dict, blank=True, editable=False)
    # The next warning and the next breach still to record: what the SLA sweeps look for.
    sla_warn_at = models.DateTimeField(null=True, blank=True, editable=False)
    sla_breach_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Denormalized from the last message so the list needs no query per row.
    last_message_at = models.DateTimeField(default=timezone.now)
    last_message_preview = models.CharField(max_length=200, blank=True)
    last_message_direction = models.CharField(max_length=3, choices=Direction.choices, blank=True)
    last_message_sender_kind = models.CharField(max_length=10, choices=SenderKind.choices, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    message_count = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            # The inbox list: each view filters on one of these and sorts newest/oldest first.
            models.Index(fields=["status", "-last_message_at"], name="conv_status_recent_idx"),
            models.Index(fields=["inbox", "status", "-last_message_at"], name="conv_inbox_status_idx"),
            models.Index(fields=["assignee", "status", "-last_message_at"], name="conv_assignee_status_idx"),
            models.Index(fields=["team", "status", "-last_message_at"], name="conv_team_status_idx"),
            models.Index(fields=["-priority", "-last_message_at"], name="conv_priority_idx"),
            models.Index(fields=["handler", "status", "-last_message_at"], name="conv_handler_status_idx"),
            models.Index(fields=["-last_message_at"], name="conv_recent_idx"),
            models.Index(fields=["-created_at"], name="conv_created_idx"),
            models.Index(fields=["contact", "inbox", "-last_message_at"], name="conv_contact_inbox_idx"),
            # Timers: only rows still waiting for something are indexed.
            models.Index(fields=["snoozed_until"], name="conv_snoozed_idx", condition=Q(snoozed_until__isnull=False)),
            models.Index(fields=["last_message_at"], name="conv_active_idle_idx", condition=Q(status="active")),
            models.Index(fields=["resolved_at"], name="conv_resolved_idx", condition=Q(status="resolved")),
            models.Index(fields=["sla_warn_at"], name="conv_sla_warn_idx", condition=Q(sla_warn_at__isnull=False)),
            models.Index(
                fields=["sla_breach_at"], name="conv_sla_breach_idx", condition=Q(sla_breach_at__isnull=False)
            ),
            # The inbox views show open conversations. Each of these holds only those (a few percent
            # of all), in list order, so a page is read off the index whatever the table's size; a
            # "status in (active, pending)" filter cannot keep the order of the per-status indexes.
            models.Index(fields=["-last_message_at", "-id"], name="conv_open_recent_idx", condition=OPEN_Q),
            models.Index(fields=["team", "-last_message_at"], name="conv_open_team_idx", condition=OPEN_Q),
            models.Index(fields=["assignee", "-last_message_at"], name="conv_open_assignee_idx", condition=OPEN_Q),
            models.Index(fields=["inbox", "-last_message_at"], name="conv_open_inbox_idx", condition=OPEN_Q),
            # sort=assignment (unassigned first, then by assignee): the list's assignee_key expression.
            models.Index(
                Coalesce("assignee", Value(0)),
                F("last_message_at").desc(),
                F("id").desc(),
                name="conv_open_assignment_idx",
                condition=OPEN_Q,
            ),
            models.Index(
                F("team"),
                Coalesce("assignee", Value(0)),
                F("last_message_at").desc(),
                F("id").desc(),
                name="conv_open_team_assignment_idx",
                condition=OPEN_Q,
            ),
            # A search with assigned:me (any status) walks the agent's conversations in list order.
            models.Index(fields=["assignee", "-last_message_at", "-id"], name="conv_assignee_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.contact} ({self.inbox.name})"

    @property
    def priority_name(self) -> str:
        return Priority(self.priority).label

    @property
    def channel(self) -> str:
        return self.inbox.kind


class Message(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    # Denormalized from the conversation so the channel's own id can be unique per inbox.
    inbox = models.ForeignKey(Inbox, on_delete=models.PROTECT, related_name="+")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    sender_kind = models.CharField(max_length=10, choices=SenderKind.choices)
    sender_user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    sender_contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    is_private_note = models.BooleanField(default=False)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True)
    html = models.TextField(blank=True, help_text="Sanitized HTML (email).")
    channel_message_id = models.CharField(max_length=255, null=True, blank=True)
    delivery_status = models.CharField(max_length=10, choices=DeliveryStatus.choices, blank=True)
    delivery_error = models.TextField(blank=True)
    confidence = models.FloatField(null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(1)])
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["inbox", "channel_message_id"],
                name="message_unique_channel_id_per_inbox",
                condition=Q(channel_message_id__isnull=False),
            ),
            models.CheckConstraint(
                condition=Q(is_private_note=False) | Q(direction="out"), name="message_note_is_outbound"
            ),
        ]
        indexes = [
            models.Index(fields=["conversation", "created_at", "id"], name="message_thread_idx"),
            models.Index(
                fields=["delivery_status", "created_at"],
                name="message_queued_idx",
                condition=Q(delivery_status="queued"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} #{self.pk}: {self.body[:40]}"

    @property
    def is_customer_visible(self) -> bool:
        return not self.is_private_note


class OpenConversationCount(models.Model):
    """How many open conversations share one combination of what the inbox views count by.

    The views' counts (``GET /conversations/counts/``) sum these few thousand rows instead of
    reading every open conversation. On PostgreSQL, triggers on the conversation table keep them in
    the same transaction as every write (services, admin, bulk updates, raw SQL): migration 0007.
    ``manage.py rebuild_view_counts`` recounts them from the conversations (and ``--check`` compares).
    Nothing in Python writes them; on SQLite they stay empty and the counts are computed directly.
    """

    inbox = models.ForeignKey(Inbox, on_delete=models.CASCADE, related_name="+")
    team_key = models.BigIntegerField(help_text="The team's id, 0 without a team.")
    assignee_key = models.BigIntegerField(help_text="The assignee's id, 0 when unassigned.")
    status = models.CharField(max_length=10, choices=Status.choices)
    handler = models.CharField(max_length=5, choices=Handler.choices)
    customer_spoke_last = models.BooleanField(help_text="The last message is the customer's.")
    urgent = models.BooleanField()
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["inbox", "team_key", "assignee_key", "status", "handler", "customer_spoke_last", "urgent"],
                name="open_count_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.n} open in inbox {self.inbox_id} ({self.status}, team {self.team_key})"


def attachment_path(instance: Attachment, filename: str) -> str:
    return f"attachments/{timezone.now():%Y/%m}/{secrets.token_hex(8)}/{filename}"


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=500)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=150)
    size = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    def __str__(self) -> str:
        return self.filename


class ConversationRead(models.Model):
    """How far one agent has read one conversation: the unread mark is derived from it."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="reads")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="conversation_reads")
    last_read_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "conversation"], name="read_unique_user_conv")]

    def __str__(self) -> str:
        return f"{self.user_id} read #{self.conversation_id} at {self.last_read_at:%Y-%m-%d %H:%M}"


class ConversationEvent(models.Model):
    """Append-only record of everything that happens to a conversation.

    It is the audit trail, the timeline and the raw data of analytics, so rows are never
    changed or deleted through the ORM.
    """

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=24, choices=EventKind.choices)
    actor_kind = models.CharField(max_length=10, choices=SenderKind.choices)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="event_timeline_idx"),
            models.Index(fields=["kind", "created_at"], name="event_kind_time_idx"),
            models.Index(fields=["created_at"], name="event_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on #{self.conversation_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("Conversation events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("Conversation events are append-only")


# --- Supporting records ----------------------------------------------------------------------


class CannedResponse(models.Model):
    """A saved reply; ``body`` may use {{customer_name}}, {{agent_name}}, {{company_name}}, {{date}}, {{time}}."""

    VARIABLES: ClassVar[tuple[str, ...]] = ("customer_name", "agent_name", "company_name", "date", "time")

    shortcut = models.SlugField(max_length=50, unique=True, help_text="Typed after / in the composer.")
    title = models.CharField(max_length=200)
    body = models.TextField()
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, help_text="Empty: everyone.")
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["shortcut"]

    def __str__(self) -> str:
        return f"/{self.shortcut}"

    def clean(self) -> None:
        import re

        unknown = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", self.body)) - set(self.VARIABLES)
        if unknown:
            raise ValidationError(
                {"body": f"Unknown variables: {', '.join(sorted(unknown))}. Use {', '.join(self.VARIABLES)}."}
            )


class Notification(models.Model):
    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    conversation = models.ForeignKey(Conversation, null=True, blank=True, on_delete=models.CASCADE)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "-created_at"], name="notification_inbox_idx"),
            models.Index(
                fields=["recipient", "-created_at"], name="notification_unread_idx", condition=Q(read_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Reminder(models.Model):
    """An agent's "remind me at ..." on a conversation; notified once when the time comes."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="reminders")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="reminders")
    remind_at = models.DateTimeField()
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    fired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["remind_at", "id"]
        indexes = [
            models.Index(fields=["remind_at"], name="reminder_due_idx", condition=Q(fired_at__isnull=True)),
            models.Index(fields=["user", "remind_at"], name="reminder_user_idx"),
        ]

    def __str__(self) -> str:
        return f"Remind {self.user_id} about #{self.conversation_id} at {self.remind_at:%Y-%m-%d %H:%M}"


class WebhookEventType(models.TextChoices):
    CONVERSATION_CREATED = "conversation.created"
    CONVERSATION_UPDATED = "conversation.updated"
    CONVERSATION_STATUS_CHANGED = "conversation.status_changed"
    MESSAGE_CREATED = "message.created"
    MESSAGE_UPDATED = "message.updated"
    CONTACT_CREATED = "contact.created"
    CONTACT_UPDATED = "contact.updated"


class WebhookSubscription(models.Model):
    """An integrator's endpoint, sent HMAC-SHA256 signed events of the chosen types."""

    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(default=list, help_text='Event types to send, e.g. ["message.created"].')
    secret = models.CharField(max_length=64, default=_token, editable=False)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    def __str__(self) -> str:
        return self.url

    def clean(self) -> None:
        if not isinstance(self.event_types, list) or not self.event_types:
            raise ValidationError({"event_types": "Choose at least one event type."})
        unknown = set(self.event_types) - set(WebhookEventType.values)
        if unknown:
            raise ValidationError({"event_types": f"Unknown event types: {', '.join(sorted(unknown))}."})


class DeliveryOutcome(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    RETRYING = "retrying", "Retrying"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event sent (or being sent) to one subscription: the integrators' delivery log."""

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=64, help_text="Stable id of the event; receivers deduplicate on it.")
    event_type = models.CharField(max_length=40, choices=WebhookEventType.choices)
    payload = models.JSONField()
    outcome = models.CharField(max_length=10, choices=DeliveryOutcome.choices, default=DeliveryOutcome.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "event_id"], name="webhook_delivery_once_per_event")
        ]
        indexes = [
            models.Index(fields=["subscription", "-created_at"], name="webhook_delivery_log_idx"),
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due_idx",
                condition=Q(outcome__in=["pending", "retrying"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} to {self.subscription_id} ({self.outcome})"
