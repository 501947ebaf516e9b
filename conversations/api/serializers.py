"""Shapes of the API. Writable fields are explicit allow-lists; every other field is read-only.

Conversations have no writable fields at all: they change only through their action endpoints,
each of which calls one service, so no client can move a conversation to another inbox or contact.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from conversations import sla
from conversations.api.canned import agent_display_name
from conversations.api.provider_urls import provider_urls
from conversations.models import (
    Attachment,
    Availability,
    BusinessHours,
    CannedResponse,
    ChannelIdentity,
    ChannelKind,
    Contact,
    Conversation,
    IdentityKind,
    Inbox,
    Message,
    Notification,
    NotificationKind,
    Priority,
    Reminder,
    SLAPolicy,
    Status,
    Tag,
    Team,
)
from conversations.payloads import sender_name
from conversations.selectors import is_supervisor
from routing.models import KnowledgeArticle, RoutingRule

User = get_user_model()
PRIORITY_NAMES = [p.label for p in sorted(Priority, reverse=True)]


class ErrorSerializer(serializers.Serializer):
    """The API's one error shape (``fields`` is a serializer attribute name, hence inline_serializer)."""

    error = inline_serializer(
        name="ErrorDetail",
        fields={
            "code": serializers.CharField(help_text="Machine-readable: invalid, not_found, permission_denied, ..."),
            "message": serializers.CharField(help_text="What is wrong, for a person."),
            "fields": serializers.DictField(
                child=serializers.JSONField(), required=False, help_text="Per field: its messages (invalid input only)."
            ),
        },
    )


class FullCleanMixin:
    """Run the model's own clean() (e.g. a routing rule's conditions) and report it as a 400."""

    def _cleaned(self, instance: Any) -> Any:
        try:
            instance.full_clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(
                exc.message_dict if hasattr(exc, "error_dict") else exc.messages
            ) from None
        return instance

    def create(self, validated_data: dict[str, Any]) -> Any:
        model = self.Meta.model  # type: ignore[attr-defined]
        many = {k: validated_data.pop(k) for k in list(validated_data) if _is_m2m(model, k)}
        instance = self._cleaned(model(**validated_data))
        instance.save()
        for key, value in many.items():
            getattr(instance, key).set(value)
        return instance

    def update(self, instance: Any, validated_data: dict[str, Any]) -> Any:
        many = {k: validated_data.pop(k) for k in list(validated_data) if _is_m2m(type(instance), k)}
        for key, value in validated_data.items():
            setattr(instance, key, value)
        self._cleaned(instance).save()
        for key, value in many.items():
            getattr(instance, key).set(value)
        return instance


def _is_m2m(model: Any, name: str) -> bool:
    try:
        return bool(model._meta.get_field(name).many_to_many)
    except Exception:
        return False


# --- Small nested shapes --------------------------------------------------------------------


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.SerializerMethodField()

    def get_name(self, user: Any) -> str:
        return agent_display_name(user)


class RefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class InboxRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=ChannelKind.choices)


# --- Conversations -------------------------------------------------------------------------------

SLA_STATES = [sla.ON_TRACK, sla.WARNING, sla.BREACHED, sla.MET]


class SLATargetSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=SLA_STATES)
    due_at = serializers.DateTimeField()
    outcome = serializers.ChoiceField(choices=["met", "missed"], allow_null=True, help_text="Once it has ended.")


class SLATargetsSerializer(serializers.Serializer):
    first_response = SLATargetSerializer(required=False)
    next_response = SLATargetSerializer(required=False)
    resolution = SLATargetSerializer(required=False)


class SLASerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=SLA_STATES,
        allow_null=True,
        help_text="The worst target of the current cycle: `breached` (overdue or ended late), `warning` (past the "
        "policy's warning share), `on_track`, or `met` once all ended in time; null without an SLA.",
    )
    due_at = serializers.DateTimeField(allow_null=True, help_text="The nearest due time of a running target.")
    targets = SLATargetsSerializer(help_text="The current cycle of each target the policy has.")


class ConversationSerializer(serializers.ModelSerializer):
    channel = serializers.CharField(source="inbox.kind", read_only=True)
    inbox = InboxRefSerializer(read_only=True)
    contact = RefSerializer(read_only=True)
    assignee = UserRefSerializer(read_only=True, allow_null=True)
    team = RefSerializer(read_only=True, allow_null=True)
    priority = serializers.ChoiceField(choices=PRIORITY_NAMES, source="priority_name", read_only=True)
    tags = serializers.SerializerMethodField()
    unread = serializers.BooleanField(source="is_unread", read_only=True, help_text="Unread by the requesting user.")
    last_message_direction = serializers.CharField(
        read_only=True, help_text="`in`, `out`, or empty before any message."
    )
    sla = serializers.SerializerMethodField()

    class Meta:
        model = Conversation
        fields: tuple[str, ...] = (
            "id",
            "subject",
            "status",
            "handler",
            "priority",
            "channel",
            "inbox",
            "contact",
            "assignee",
            "team",
            "tags",
            "topic",
            "snoozed_until",
            "last_message_at",
            "last_message_preview",
            "last_message_direction",
            "message_count",
            "unread",
            "sla",
            "created_at",
            "updated_at",
        )
        read_only_fields: tuple[str, ...] = fields

    def get_tags(self, conversation: Conversation) -> list[str]:
        return sorted(tag.name for tag in conversation.tags.all())

    @extend_schema_field(SLASerializer)
    def get_sla(self, conversation: Conversation) -> dict[str, Any]:
        # One nested serializer for the whole page: building one per row deep-copies its fields each
        # time, which was about a third of a 25-row list's serialization.
        shape = self.__dict__.get("_sla_shape")
        if shape is None:
            shape = self.__dict__["_sla_shape"] = SLASerializer()
        return dict(shape.to_representation(sla.summary(conversation)))


class ConversationDetailSerializer(ConversationSerializer):
    class Meta(ConversationSerializer.Meta):
        fields = (
            *ConversationSerializer.Meta.fields,
            "summary",
            "language",
            "status_changed_at",
            "handed_off_at",
            "assigned_at",
            "first_response_at",
            "waiting_since",
            "resolved_at",
            "first_response_due_at",
            "next_response_due_at",
            "resolution_due_at",
        )
        read_only_fields = fields


class AssignSerializer(serializers.Serializer):
    assignee_id = serializers.IntegerField(allow_null=True, help_text="An agent's id; null unassigns.")


class StatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class PrioritySerializer(serializers.Serializer):
    priority = serializers.ChoiceField(choices=PRIORITY_NAMES)
    reason = serializers.CharField(max_length=500, help_text="Why a person overrides the priority (required).")


class TagsSerializer(serializers.Serializer):
    add = serializers.ListField(child=serializers.CharField(max_length=50), required=False, default=list)
    remove = serializers.ListField(child=serializers.CharField(max_length=50), required=False, default=list)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs["add"] and not attrs["remove"]:
            raise serializers.ValidationError("Give tags to add or to remove.")
        return attrs


class TransferSerializer(serializers.Serializer):
    team_id = serializers.IntegerField()
    assignee_id = serializers.IntegerField(required=False, allow_null=True, default=None)
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


class SnoozeSerializer(serializers.Serializer):
    until = serializers.DateTimeField()


class BulkSerializer(serializers.Serializer):
    ACTIONS = ("assign", "status", "priority", "tags", "archive", "delete")

    action = serializers.ChoiceField(choices=ACTIONS)
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=1000, help_text="Conversation ids."
    )
    filter = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text="Instead of ids: everything the list's query parameters match (status, q, ...).",
    )
    assignee_id = serializers.IntegerField(required=False, allow_null=True)
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    priority = serializers.ChoiceField(choices=PRIORITY_NAMES, required=False)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")
    add = serializers.ListField(child=serializers.CharField(max_length=50), required=False, default=list)
    remove = serializers.ListField(child=serializers.CharField(max_length=50), required=False, default=list)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("ids" in attrs) == ("filter" in attrs):
            raise serializers.ValidationError("Give either ids or filter.")
        action = attrs["action"]
        needed = {"assign": "assignee_id", "status": "status", "priority": "priority"}.get(action)
        if needed and needed not in attrs:
            raise serializers.ValidationError({needed: [f"Required for {action}."]})
        if action == "priority" and not attrs["reason"].strip():
            raise serializers.ValidationError({"reason": ["Give a reason when changing the priority."]})
        if action == "tags" and not attrs["add"] and not attrs["remove"]:
            raise serializers.ValidationError({"add": ["Give tags to add or to remove."]})
        return attrs


class BulkRefusalSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    message = serializers.CharField()


class BulkResultSerializer(serializers.Serializer):
    action = serializers.CharField()
    changed = serializers.ListField(child=serializers.IntegerField())
    unchanged = serializers.ListField(child=serializers.IntegerField())
    refused = BulkRefusalSerializer(many=True)


class CountsSerializer(serializers.Serializer):
    all = serializers.DictField(child=serializers.IntegerField(), help_text="active, pending, resolved_today")
    mine = serializers.DictField(
        child=serializers.IntegerField(), help_text="needs_my_attention, waiting_for_customer, ready_to_close"
    )
    team = serializers.DictField(child=serializers.IntegerField(), help_text="unassigned, in_progress, needs_review")
    by_channel = serializers.DictField(child=serializers.IntegerField())
    bot_handled = serializers.IntegerField()


# --- Messages ------------------------------------------------------------------------------------


class AttachmentSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ("id", "filename", "content_type", "size", "url")
        read_only_fields = fields

    def get_url(self, attachment: Attachment) -> str:
        # Never the file's own /media/ path: downloads go through the API's authorization check.
        return reverse("attachment-download", args=[attachment.pk])


class MessageSerializer(serializers.ModelSerializer):
    sender_name = serializers.SerializerMethodField()
    private = serializers.BooleanField(source="is_private_note", read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)
    channel = serializers.CharField(source="inbox.kind", read_only=True)
    delivery_status = serializers.CharField(
        read_only=True, help_text="queued, sent, delivered, read or failed; empty for inbound messages and notes."
    )

    class Meta:
        model = Message
        fields = (
            "id",
            "conversation_id",
            "channel",
            "direction",
            "sender_kind",
            "sender_name",
            "private",
            "subject",
            "body",
            "html",
            "delivery_status",
            "delivery_error",
            "confidence",
            "attachments",
            "created_at",
            "sent_at",
            "delivered_at",
        )
        read_only_fields = fields

    def get_sender_name(self, message: Message) -> str:
        return sender_name(message)


class MessageCreateSerializer(serializers.Serializer):
    body = serializers.CharField(required=False, allow_blank=True, default="", max_length=50_000)
    private = serializers.BooleanField(required=False, default=False, help_text="An internal note, never sent.")
    attachments = serializers.ListField(
        child=serializers.FileField(), required=False, default=list, help_text="Multipart file uploads."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["private"] and attrs["attachments"]:
            raise serializers.ValidationError({"attachments": ["Internal notes cannot carry attachments."]})
        if not attrs["body"].strip() and not attrs["attachments"]:
            raise serializers.ValidationError({"body": ["A message needs text or an attachment."]})
        return attrs


# --- Contacts ------------------------------------------------------------------------------------


class IdentitySerializer(serializers.ModelSerializer):
    class Meta:
        model = ChannelIdentity
        fields = ("id", "kind", "value", "verified", "created_at")
        read_only_fields = ("id", "verified", "created_at")


class IdentityCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=IdentityKind.choices)
    value = serializers.CharField(max_length=320)


class ContactSerializer(serializers.ModelSerializer):
    identities = IdentitySerializer(many=True, read_only=True)
    conversation_count = serializers.IntegerField(read_only=True, help_text="Conversations you can see.")
    is_vip = serializers.BooleanField(read_only=True)

    class Meta:
        model = Contact
        fields: tuple[str, ...] = (
            "id",
            "name",
            "language",
            "location",
            "segment",
            "is_vip",
            "custom_attributes",
            "identities",
            "conversation_count",
            "created_at",
            "updated_at",
        )
        read_only_fields: tuple[str, ...] = (
            "id",
            "identities",
            "conversation_count",
            "is_vip",
            "created_at",
            "updated_at",
        )

    def validate_custom_attributes(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be an object.")
        return value


class ContactConversationSerializer(serializers.ModelSerializer):
    channel = serializers.CharField(source="inbox.kind", read_only=True)
    priority = serializers.ChoiceField(choices=PRIORITY_NAMES, source="priority_name", read_only=True)

    class Meta:
        model = Conversation
        fields = (
            "id",
            "inbox_id",
            "channel",
            "subject",
            "status",
            "priority",
            "last_message_at",
            "last_message_preview",
        )
        read_only_fields = fields


class ContactDetailSerializer(ContactSerializer):
    conversations = serializers.SerializerMethodField(
        help_text="The contact's conversations you can see, newest first."
    )

    class Meta(ContactSerializer.Meta):
        fields = (*ContactSerializer.Meta.fields, "conversations")
        read_only_fields = (*ContactSerializer.Meta.read_only_fields, "conversations")

    @extend_schema_field(ContactConversationSerializer(many=True))
    def get_conversations(self, contact: Contact) -> list[dict[str, Any]]:
        conversations = self.context.get("conversations", [])
        return list(ContactConversationSerializer(conversations, many=True).data)


class MergeSerializer(serializers.Serializer):
    source_id = serializers.IntegerField(help_text="The contact folded into this one (it stops existing).")


# --- Inboxes -------------------------------------------------------------------------------------


class ProviderUrlsSerializer(serializers.Serializer):
    twilio_messages_url = serializers.CharField(allow_null=True)
    twilio_status_callback_url = serializers.CharField(allow_null=True)
    twilio_voice_url = serializers.CharField(allow_null=True)
    api_inbound_url = serializers.CharField(allow_null=True)
    widget_snippet = serializers.CharField(allow_null=True)


class InboxSerializer(FullCleanMixin, serializers.ModelSerializer):
    provider_urls = serializers.SerializerMethodField()
    widget_secret = serializers.SerializerMethodField(help_text="Supervisors only; null for agents.")
    members = serializers.PrimaryKeyRelatedField(many=True, queryset=User.objects.all(), required=False)
    default_team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all(), allow_null=True, required=False)
    business_hours = serializers.PrimaryKeyRelatedField(
        queryset=BusinessHours.objects.all(), allow_null=True, required=False
    )
    sla_policy = serializers.PrimaryKeyRelatedField(queryset=SLAPolicy.objects.all(), allow_null=True, required=False)

    class Meta:
        model = Inbox
        fields = (
            "id",
            "name",
            "kind",
            "config",
            "members",
            "default_team",
            "business_hours",
            "sla_policy",
            "assignment_strategy",
            "pending_after_minutes",
            "archive_after_days",
            "assistant_enabled",
            "assistant_mode",
            "handoff_keywords",
            "fallback_handoff_after",
            "confidence_threshold",
            "intake_questions",
            "csat_enabled",
            "is_active",
            "webhook_token",
            "widget_secret",
            "provider_urls",
            "created_at",
        )
        read_only_fields = ("id", "webhook_token", "widget_secret", "provider_urls", "created_at")

    @extend_schema_field(ProviderUrlsSerializer)
    def get_provider_urls(self, inbox: Inbox) -> dict[str, Any]:
        return dict(provider_urls(inbox))

    def get_widget_secret(self, inbox: Inbox) -> str | None:
        request = self.context.get("request")
        return inbox.widget_secret if request is not None and is_supervisor(request.user) else None

    def validate_kind(self, value: str) -> str:
        if self.instance is not None and value != self.instance.kind:
            raise serializers.ValidationError("An inbox's channel kind cannot change; create another inbox.")
        return value


# --- Teams, agents, tags, canned responses, SLA, rules, articles, notifications ------------------


class TeamSerializer(FullCleanMixin, serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ("id", "name", "description", "assignment_strategy", "reassign_after_minutes", "created_at")
        read_only_fields = ("id", "created_at")


class AgentSerializer(serializers.ModelSerializer):
    name = serializers.SerializerMethodField()
    availability = serializers.ChoiceField(source="agent_profile.availability", choices=Availability.choices)
    capacity = serializers.IntegerField(source="agent_profile.capacity", min_value=0, max_value=500)
    skills = serializers.ListField(source="agent_profile.skills", child=serializers.CharField(max_length=50))
    languages = serializers.ListField(source="agent_profile.languages", child=serializers.CharField(max_length=16))
    channels = serializers.ListField(
        source="agent_profile.channels", child=serializers.ChoiceField(choices=ChannelKind.choices)
    )
    teams = serializers.PrimaryKeyRelatedField(source="agent_profile.teams", many=True, queryset=Team.objects.all())
    is_supervisor = serializers.SerializerMethodField()
    last_seen_at = serializers.DateTimeField(source="agent_profile.last_seen_at", read_only=True, allow_null=True)

    class Meta:
        model = User
        fields = (
            "id",
            "username",
            "name",
            "email",
            "availability",
            "capacity",
            "skills",
            "languages",
            "channels",
            "teams",
            "is_supervisor",
            "last_seen_at",
        )
        read_only_fields = ("id", "username", "name", "email", "is_supervisor", "last_seen_at")

    def get_name(self, user: Any) -> str:
        return agent_display_name(user)

    def get_is_supervisor(self, user: Any) -> bool:
        return is_supervisor(user)


class TagSerializer(FullCleanMixin, serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ("id", "name", "color")
        read_only_fields = ("id",)


class CannedResponseSerializer(FullCleanMixin, serializers.ModelSerializer):
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all(), allow_null=True, required=False)

    class Meta:
        model = CannedResponse
        fields = ("id", "shortcut", "title", "body", "team", "created_at")
        read_only_fields = ("id", "created_at")


class RenderedCannedResponseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    shortcut = serializers.CharField()
    body = serializers.CharField(help_text="With its variables filled in for the conversation.")


class SLAPolicySerializer(FullCleanMixin, serializers.ModelSerializer):
    business_hours = serializers.PrimaryKeyRelatedField(
        queryset=BusinessHours.objects.all(), allow_null=True, required=False
    )

    class Meta:
        model = SLAPolicy
        fields = (
            "id",
            "name",
            "first_response_minutes",
            "next_response_minutes",
            "resolution_minutes",
            "business_hours",
            "warning_fraction",
            "is_active",
        )
        read_only_fields = ("id",)


class RoutingRuleSerializer(FullCleanMixin, serializers.ModelSerializer):
    inbox = serializers.PrimaryKeyRelatedField(queryset=Inbox.objects.all(), allow_null=True, required=False)

    class Meta:
        model = RoutingRule
        fields = (
            "id",
            "name",
            "position",
            "is_active",
            "inbox",
            "match",
            "conditions",
            "actions",
            "stop_processing",
            "created_at",
        )
        read_only_fields = ("id", "created_at")


class KnowledgeArticleSerializer(FullCleanMixin, serializers.ModelSerializer):
    inbox = serializers.PrimaryKeyRelatedField(queryset=Inbox.objects.all(), allow_null=True, required=False)

    class Meta:
        model = KnowledgeArticle
        fields = ("id", "title", "body", "keywords", "topic", "inbox", "is_published", "created_at", "updated_at")
        read_only_fields = ("id", "created_at", "updated_at")


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ("id", "kind", "title", "body", "conversation_id", "read_at", "created_at")
        read_only_fields = fields


class MarkedReadSerializer(serializers.Serializer):
    marked_read = serializers.IntegerField()


class NotificationChoiceSerializer(serializers.Serializer):
    in_app = serializers.BooleanField(required=False, help_text="In the notification list and live.")
    email = serializers.BooleanField(required=False)


class NotificationPreferencesSerializer(serializers.Serializer):
    """Per notification type, whether you want it in the app and by email; omitted types keep their setting."""

    def get_fields(self) -> dict[str, Any]:
        return {
            kind.value: NotificationChoiceSerializer(required=False, help_text=str(kind.label))
            for kind in NotificationKind
        }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = set(self.initial_data or {}) - set(NotificationKind.values)
        if unknown:
            raise serializers.ValidationError(
                f"Unknown notification types: {', '.join(sorted(map(str, unknown)))}; "
                f"use {', '.join(NotificationKind.values)}."
            )
        return attrs


class ReminderCreateSerializer(serializers.Serializer):
    remind_at = serializers.DateTimeField(help_text="When to remind you (in the future, within a year).")
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ReminderSerializer(serializers.ModelSerializer):
    class Meta:
        model = Reminder
        fields = ("id", "conversation_id", "remind_at", "note", "fired_at", "created_at")
        read_only_fields = fields


# --- Authentication ------------------------------------------------------------------------------


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, style={"input_type": "password"}, trim_whitespace=False)
    name = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
    expires_in_days = serializers.IntegerField(
        min_value=1, max_value=365, required=False, default=90, help_text="The key stops working after this."
    )


class ApiTokenSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The key's first characters.")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class IssuedTokenSerializer(ApiTokenSerializer):
    key = serializers.CharField(help_text="Shown only now: send it as `Authorization: Token <key>`.")


class RealtimeTicketSerializer(serializers.Serializer):
    ticket = serializers.CharField(help_text="Pass as ?ticket= when opening /ws/agent/.")
    expires_in = serializers.IntegerField(help_text="Seconds the ticket is valid.")
    url = serializers.CharField(help_text="The websocket URL with the ticket.")
