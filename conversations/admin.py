"""The supervisors' back office for the support domain.

Supervisors set up inboxes, agents, teams, SLA policies, business hours, canned responses and
tags here, and look into conversations. A conversation is never edited field by field: status,
priority and assignment change through the admin actions, which call the same services as the
agent inbox and the API (one call per conversation), so every change leaves its conversation
event and its live update. Rows that only the application writes (messages, events, reads,
notifications, attachments) are read-only.

Everything a customer wrote is shown escaped: display methods return plain strings (the admin
escapes them) or build HTML with ``format_html``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.db.models import Count, Model, QuerySet, Subquery
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.template.defaultfilters import linebreaksbr
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator, smart_split

from conversations import services, webhooks
from conversations.models import (
    AgentProfile,
    Attachment,
    BusinessHours,
    CannedResponse,
    ChannelIdentity,
    Contact,
    Conversation,
    ConversationEvent,
    ConversationRead,
    Inbox,
    Message,
    Notification,
    Priority,
    Reminder,
    SLAPolicy,
    Status,
    Tag,
    Team,
    WebhookDelivery,
    WebhookEventType,
    WebhookSubscription,
)
from conversations.payloads import sender_name
from conversations.selectors import is_supervisor
from core.admin import LargeTableAdmin, ReadOnlyAdmin

User = get_user_model()

# A conversation page shows at most this many of its latest messages and events.
INLINE_ROW_LIMIT = 200
# Beyond this many refused conversations in one action, the rest are summed up in one line.
REFUSALS_SHOWN = 20
WEEKDAYS = {"1": "Mon", "2": "Tue", "3": "Wed", "4": "Thu", "5": "Fri", "6": "Sat", "7": "Sun"}


def _user(request: HttpRequest) -> Any:
    return request.user


def conversation_link(conversation_id: int | None) -> str:
    if conversation_id is None:
        return "-"
    url = reverse("admin:conversations_conversation_change", args=[conversation_id])
    return format_html('<a href="{}">#{}</a>', url, conversation_id)


def split_search_terms(search_term: str) -> tuple[list[int], list[str]]:
    """Split a search into ids (``1234`` or ``#1234``) and everything else (kept quoted as typed)."""
    ids: list[int] = []
    words: list[str] = []
    for bit in smart_split(search_term):
        digits = bit.removeprefix("#")
        if digits.isascii() and digits.isdigit() and len(digits) <= 18:
            ids.append(int(digits))
        else:
            words.append(bit)
    return ids, words


class ConversationIdSearchAdmin(admin.ModelAdmin):
    """Rows of a conversation found by its id through the foreign key's index.

    Django's own search would cast every id to text to compare it, a full scan of a big table.
    Ids and words combine with AND; words go through ``search_fields`` as usual.
    """

    conversation_lookup = "conversation_id"
    search_help_text = "A conversation id (1234 or #1234), or words."

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        ids, words = split_search_terms(search_term)
        may_have_duplicates = False
        if words:
            queryset, may_have_duplicates = super().get_search_results(request, queryset, " ".join(words))
        if ids:
            queryset = queryset.filter(**{f"{self.conversation_lookup}__in": ids})
        return queryset, may_have_duplicates


class LatestRowsInlineFormSet(BaseInlineFormSet):
    """Only the latest rows of a long conversation, still oldest first, so its page opens quickly."""

    limit = INLINE_ROW_LIMIT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        rows: Any = self.queryset
        latest = rows.order_by("-created_at", "-pk").values("pk")[: self.limit]
        self.queryset = rows.filter(pk__in=Subquery(latest))


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


# --- List filters ----------------------------------------------------------------------------


class AssigneeFilter(admin.SimpleListFilter):
    title = "assignee"
    parameter_name = "assigned"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("me", "Me"), ("anyone", "Anyone"), ("nobody", "Nobody")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        if self.value() == "me":
            return queryset.filter(assignee=_user(request))
        if self.value() == "anyone":
            return queryset.filter(assignee__isnull=False)
        if self.value() == "nobody":
            return queryset.filter(assignee__isnull=True)
        return None


class VipFilter(admin.SimpleListFilter):
    title = "VIP"
    parameter_name = "vip"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "VIP"), ("no", "Not VIP")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        if self.value() == "yes":
            return queryset.filter(segment__iexact="vip")
        if self.value() == "no":
            return queryset.exclude(segment__iexact="vip")
        return None


class MergedFilter(admin.SimpleListFilter):
    title = "merged"
    parameter_name = "merged"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "Current contacts"), ("yes", "Merged into another")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        if self.value() == "no":
            return queryset.filter(merged_into__isnull=True)
        if self.value() == "yes":
            return queryset.filter(merged_into__isnull=False)
        return None


class IsAgentFilter(admin.SimpleListFilter):
    title = "agent"
    parameter_name = "agent"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Agents"), ("no", "Not agents")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        if self.value() == "yes":
            return queryset.filter(agent_profile__isnull=False)
        if self.value() == "no":
            return queryset.filter(agent_profile__isnull=True)
        return None


# --- Agents, users and teams -----------------------------------------------------------------


AGENT_PROFILE_FIELDS = (
    "display_name",
    "availability",
    "capacity",
    "teams",
    "skills",
    "languages",
    "channels",
    "notification_preferences",
    "last_seen_at",
    "availability_changed_at",
)


class AgentProfileInline(admin.StackedInline):
    model = AgentProfile
    fk_name = "user"
    can_delete = False
    verbose_name_plural = "agent profile"
    fields = AGENT_PROFILE_FIELDS
    readonly_fields = ("last_seen_at", "availability_changed_at")
    filter_horizontal = ("teams",)


if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Django's user admin, with the agent profile (availability, capacity, teams, skills) inline."""

    inlines = (AgentProfileInline,)
    list_display = ("username", "email", "first_name", "last_name", "is_staff", "is_active", "availability")
    list_filter = (IsAgentFilter, "is_staff", "is_superuser", "is_active", "groups")
    list_select_related = ("agent_profile",)

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        # The profile is set up on the change page that follows adding a user.
        return self.inlines if obj is not None else ()

    @admin.display(description="availability")
    def availability(self, user: Any) -> str:
        profile = getattr(user, "agent_profile", None)
        return profile.get_availability_display() if profile is not None else "-"


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    list_display = ("agent_name", "user", "availability", "capacity", "team_list", "last_seen_at")
    list_filter = ("availability", "teams")
    list_select_related = ("user",)
    search_fields = ("display_name", "user__username", "user__first_name", "user__last_name", "user__email")
    autocomplete_fields = ("user",)
    filter_horizontal = ("teams",)
    fields = ("user", *AGENT_PROFILE_FIELDS)
    readonly_fields = ("last_seen_at", "availability_changed_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[AgentProfile]:
        return super().get_queryset(request).prefetch_related("teams")

    @admin.display(description="name", ordering="display_name")
    def agent_name(self, profile: AgentProfile) -> str:
        return profile.name

    @admin.display(description="teams")
    def team_list(self, profile: AgentProfile) -> str:
        return ", ".join(team.name for team in profile.teams.all())


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "assignment_strategy", "reassign_after_minutes", "agent_count")
    list_filter = ("assignment_strategy",)
    search_fields = ("name", "description")
    filter_horizontal = ("supervisors",)
    fields = ("name", "description", "assignment_strategy", "reassign_after_minutes", "supervisors", "created_at")
    readonly_fields = ("created_at",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Team]:
        return super().get_queryset(request).annotate(agent_total=Count("agents", distinct=True))

    @admin.display(description="agents", ordering="agent_total")
    def agent_count(self, team: Any) -> int:
        return int(team.agent_total)


# --- Schedules and SLAs ----------------------------------------------------------------------


@admin.register(BusinessHours)
class BusinessHoursAdmin(admin.ModelAdmin):
    list_display = ("name", "timezone", "open_days", "holiday_count")
    search_fields = ("name", "timezone")
    fields = ("name", "timezone", "schedule", "holidays")

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        kwargs["help_texts"] = {
            "timezone": "An IANA time zone, e.g. Europe/Paris or America/New_York.",
            "schedule": 'Opening hours per ISO weekday (1 Monday .. 7 Sunday), e.g. {"1": [["09:00", "17:00"]], '
            '"6": [["10:00", "14:00"]]}; a missing day is closed. SLA clocks count only these hours.',
        }
        return super().get_form(request, obj, change, **kwargs)

    @admin.display(description="open on")
    def open_days(self, hours: BusinessHours) -> str:
        schedule = hours.schedule if isinstance(hours.schedule, dict) else {}
        return ", ".join(WEEKDAYS[day] for day in sorted(map(str, schedule)) if day in WEEKDAYS and schedule[day])

    @admin.display(description="holidays")
    def holiday_count(self, hours: BusinessHours) -> int:
        return len(hours.holidays) if isinstance(hours.holidays, list) else 0


@admin.register(SLAPolicy)
class SLAPolicyAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "first_response_minutes",
        "next_response_minutes",
        "resolution_minutes",
        "business_hours",
        "warning_fraction",
        "is_active",
    )
    list_filter = ("is_active", "business_hours")
    list_select_related = ("business_hours",)
    search_fields = ("name",)


# --- Inboxes ---------------------------------------------------------------------------------


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders a value back: what is typed into it is not shown again."""

    def format_value(self, value: Any) -> str | None:
        return None


class InboxForm(forms.ModelForm):
    """The inbox, with its credentials replaced through a write-only field instead of shown in clear."""

    new_credentials = forms.JSONField(
        required=False,
        label="Replace credentials",
        widget=WriteOnlyTextarea(attrs={"rows": 4, "autocomplete": "off", "spellcheck": "false"}),
        help_text=(
            'A JSON object of secrets, e.g. {"auth_token": "..."}. It replaces all the stored credentials; '
            "{} removes them. Leave empty to keep them as they are."
        ),
    )

    class Meta:
        model = Inbox
        # Every setting but ``credentials``, which is only ever replaced through ``new_credentials``.
        fields = (
            "name",
            "kind",
            "is_active",
            "config",
            "members",
            "default_team",
            "assignment_strategy",
            "business_hours",
            "sla_policy",
            "pending_after_minutes",
            "archive_after_days",
            "assistant_enabled",
            "assistant_mode",
            "confidence_threshold",
            "fallback_handoff_after",
            "handoff_keywords",
            "intake_questions",
            "csat_enabled",
        )

    def clean_new_credentials(self) -> dict[str, Any] | None:
        value = self.cleaned_data.get("new_credentials")
        if value is not None and not isinstance(value, dict):
            raise ValidationError('Credentials are a JSON object, e.g. {"auth_token": "..."}.')
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("new_credentials") is not None:
            self.instance.credentials = cleaned["new_credentials"]
        return cleaned


@admin.register(Inbox)
class InboxAdmin(admin.ModelAdmin):
    form = InboxForm
    # The secrets never reach a page: not listed, not searched, not in the form.
    exclude = ("credentials",)
    list_display = (
        "name",
        "kind",
        "is_active",
        "default_team",
        "sla_policy",
        "assistant_enabled",
        "assistant_mode",
        "member_count",
    )
    list_filter = ("kind", "is_active", "assistant_enabled", "assistant_mode", "default_team")
    list_select_related = ("default_team", "sla_policy")
    search_fields = ("name",)
    filter_horizontal = ("members",)
    readonly_fields = ("webhook_token", "widget_secret", "stored_credentials", "created_at")
    fieldsets = (
        (None, {"fields": ("name", "kind", "is_active", "created_at")}),
        (
            "Channel",
            {
                "fields": ("config", "stored_credentials", "new_credentials", "webhook_token", "widget_secret"),
                "description": "The channel's settings, checked for its kind, and its secrets (never shown).",
            },
        ),
        ("Members and routing", {"fields": ("members", "default_team", "assignment_strategy")}),
        ("Business hours and SLA", {"fields": ("business_hours", "sla_policy")}),
        ("Auto-status timers", {"fields": ("pending_after_minutes", "archive_after_days")}),
        (
            "Assistant",
            {
                "fields": (
                    "assistant_enabled",
                    "assistant_mode",
                    "confidence_threshold",
                    "fallback_handoff_after",
                    "handoff_keywords",
                    "intake_questions",
                    "csat_enabled",
                )
            },
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Inbox]:
        return super().get_queryset(request).annotate(member_total=Count("members", distinct=True))

    def get_fieldsets(self, request: HttpRequest, obj: Inbox | None = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if self.has_change_permission(request, obj) or (obj is None and self.has_add_permission(request)):
            return fieldsets
        # Looking without the right to change: there is no form field to replace the credentials.
        return [
            (name, {**options, "fields": tuple(f for f in options["fields"] if f != "new_credentials")})
            for name, options in fieldsets
        ]

    @admin.display(description="members", ordering="member_total")
    def member_count(self, inbox: Any) -> int:
        return int(inbox.member_total)

    @admin.display(description="stored credentials")
    def stored_credentials(self, inbox: Inbox) -> str:
        """Which secrets are stored, never their values."""
        credentials = inbox.credentials if isinstance(inbox.credentials, dict) else {}
        if not credentials:
            return "None stored"
        return format_html_join(", ", "{}: ••••••", ((key,) for key in sorted(credentials)))


# --- Contacts --------------------------------------------------------------------------------


class ChannelIdentityInline(admin.TabularInline):
    model = ChannelIdentity
    fields = ("kind", "value", "verified", "created_at")
    readonly_fields = ("created_at",)
    extra = 0


@admin.register(Contact)
class ContactAdmin(LargeTableAdmin):
    list_display = ("id", "contact_name", "identity_list", "segment", "language", "location", "created_at")
    list_display_links = ("id", "contact_name")
    list_filter = (VipFilter, MergedFilter)
    search_fields = ("name", "identities__value")
    search_help_text = "Name, phone number, email address or another identity."
    ordering = ("-created_at",)
    inlines = (ChannelIdentityInline,)
    fields = (
        "name",
        "language",
        "location",
        "segment",
        "custom_attributes",
        "merged_into",
        "conversation_list_link",
        "created_at",
        "updated_at",
    )
    readonly_fields = ("merged_into", "conversation_list_link", "created_at", "updated_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Contact]:
        return super().get_queryset(request).prefetch_related("identities")

    @admin.display(description="name", ordering="name")
    def contact_name(self, contact: Contact) -> str:
        return str(contact)

    @admin.display(description="identities")
    def identity_list(self, contact: Contact) -> str:
        return ", ".join(identity.value for identity in contact.identities.all())

    @admin.display(description="conversations")
    def conversation_list_link(self, contact: Contact) -> str:
        if contact.pk is None:
            return "-"
        url = reverse("admin:conversations_conversation_changelist")
        return format_html(
            '<a href="{}?contact__id__exact={}">All conversations with this contact</a>', url, contact.pk
        )


@admin.register(ChannelIdentity)
class ChannelIdentityAdmin(LargeTableAdmin):
    list_display = ("value", "kind", "contact", "verified", "created_at")
    list_filter = ("kind", "verified")
    list_select_related = ("contact",)
    search_fields = ("value", "contact__name")
    autocomplete_fields = ("contact",)
    ordering = ("-id",)
    fields = ("contact", "kind", "value", "verified", "created_at")
    readonly_fields = ("created_at",)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "swatch")
    search_fields = ("name",)

    @admin.display(description="color")
    def swatch(self, tag: Tag) -> str:
        return format_html(
            '<span style="display:inline-block;width:1em;height:1em;border-radius:2px;background:{}"></span> {}',
            tag.color,
            tag.color,
        )


# --- Conversations ---------------------------------------------------------------------------


class ConversationActionForm(ActionForm):
    """The action bar, with the agent for "Assign to the chosen agent"."""

    agent = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True, agent_profile__isnull=False).order_by("username"),
        required=False,
        label="Agent:",
        empty_label="(for “Assign to the chosen agent”)",
    )


class MessageInline(ReadOnlyInline):
    model = Message
    fk_name = "conversation"
    formset = LatestRowsInlineFormSet
    verbose_name_plural = f"messages (the latest {INLINE_ROW_LIMIT}, oldest first)"
    ordering = ("created_at", "id")
    fields = ("created_at", "sender", "kind", "body_display", "attachment_list", "delivery_status", "confidence")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        return (
            super()
            .get_queryset(request)
            .select_related("sender_user__agent_profile", "sender_contact")
            .prefetch_related("attachments")
        )

    @admin.display(description="from")
    def sender(self, message: Message) -> str:
        return sender_name(message) or message.get_sender_kind_display()

    @admin.display(description="kind")
    def kind(self, message: Message) -> str:
        if message.is_private_note:
            return format_html('<span class="private-note-label">{}</span>', "Private note")
        return message.get_direction_display()

    @admin.display(description="message")
    def body_display(self, message: Message) -> str:
        css = "message-body private-note" if message.is_private_note else "message-body"
        text = linebreaksbr(message.body or message.subject, autoescape=True)
        return format_html('<span class="{}">{}</span>', css, text)

    @admin.display(description="attachments")
    def attachment_list(self, message: Message) -> str:
        return ", ".join(attachment.filename for attachment in message.attachments.all())


def _event_details(event: ConversationEvent) -> str:
    data = event.data if isinstance(event.data, dict) else {}
    return ", ".join(
        f"{key}: {json.dumps(value) if isinstance(value, dict | list) else value}" for key, value in data.items()
    )


def _event_actor(event: ConversationEvent) -> str:
    actor: Any = event.actor
    return actor.get_username() if actor is not None else event.get_actor_kind_display()


class ConversationEventInline(ReadOnlyInline):
    model = ConversationEvent
    formset = LatestRowsInlineFormSet
    verbose_name_plural = f"timeline (the latest {INLINE_ROW_LIMIT} events, oldest first)"
    ordering = ("created_at", "id")
    fields = ("created_at", "kind", "actor_name", "details")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[ConversationEvent]:
        return super().get_queryset(request).select_related("actor")

    @admin.display(description="by")
    def actor_name(self, event: ConversationEvent) -> str:
        return _event_actor(event)

    @admin.display(description="details")
    def details(self, event: ConversationEvent) -> str:
        return _event_details(event)


@admin.register(Conversation)
class ConversationAdmin(LargeTableAdmin):
    """Conversations are looked at here and changed only through the actions (the services)."""

    list_display = (
        "id",
        "contact_name",
        "inbox",
        "status",
        "handler",
        "priority",
        "assignee",
        "team",
        "last_message_at",
        "preview",
    )
    list_display_links = ("id", "contact_name")
    list_filter = ("status", "handler", "priority", AssigneeFilter, "inbox", "team", "tags")
    list_select_related = ("contact", "inbox", "assignee", "team")
    search_fields = ("contact__name", "contact__identities__value", "subject")
    search_help_text = "Contact name, phone number, email address or other identity, subject, or an id (1234 or #1234)."
    ordering = ("-last_message_at",)
    raw_id_fields = ("contact", "assignee", "resolved_by")
    inlines = (MessageInline, ConversationEventInline)
    action_form = ConversationActionForm
    actions = (
        "assign_to_me",
        "assign_to_chosen_agent",
        "unassign",
        "mark_active",
        "mark_pending",
        "mark_resolved",
        "archive",
        "set_priority_urgent",
        "set_priority_high",
        "set_priority_normal",
        "set_priority_low",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "inbox",
                    "contact",
                    "subject",
                    "status",
                    "handler",
                    "priority",
                    "assignee",
                    "team",
                    "tags",
                    "snoozed_until",
                )
            },
        ),
        ("Assistant", {"fields": ("topic", "summary", "language", "assistant_state")}),
        (
            "Times",
            {
                "fields": (
                    "created_at",
                    "last_message_at",
                    "last_inbound_at",
                    "waiting_since",
                    "first_response_at",
                    "handed_off_at",
                    "assigned_at",
                    "status_changed_at",
                    "resolved_at",
                    "resolved_by",
                    "message_count",
                )
            },
        ),
        (
            "SLA",
            {
                "fields": (
                    "sla_policy",
                    "first_response_due_at",
                    "next_response_due_at",
                    "resolution_due_at",
                    "sla_targets",
                )
            },
        ),
    )

    # Conversations start with a customer's message and are never deleted from the back office;
    # their page is read-only (Django's view mode) so that nothing bypasses the services.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Conversation | None = None) -> bool:
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Conversation | None = None) -> bool:
        return False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Conversation], search_term: str
    ) -> tuple[QuerySet[Conversation], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        ids, _ = split_search_terms(search_term)
        if ids:
            results |= queryset.filter(pk__in=ids)
        return results, may_have_duplicates

    @admin.display(description="contact", ordering="contact__name")
    def contact_name(self, conversation: Conversation) -> str:
        return str(conversation.contact)

    @admin.display(description="last message")
    def preview(self, conversation: Conversation) -> str:
        return Truncator(conversation.last_message_preview).chars(80)

    # --- Actions: one service call per conversation -------------------------------------------

    def _apply(
        self,
        request: HttpRequest,
        queryset: QuerySet[Conversation],
        done_message: str,
        change: Callable[[Conversation], object],
    ) -> None:
        done = 0
        refusals: list[str] = []
        for conversation in queryset.order_by("pk"):
            try:
                change(conversation)
            except services.ServiceError as exc:
                refusals.append(f"Conversation #{conversation.pk} was not changed: {' '.join(exc.messages)}")
            else:
                done += 1
        if done:
            noun = "conversation" if done == 1 else "conversations"
            self.message_user(request, f"{done_message} {done} {noun}.", messages.SUCCESS)
        for refusal in refusals[:REFUSALS_SHOWN]:
            self.message_user(request, refusal, messages.WARNING)
        if len(refusals) > REFUSALS_SHOWN:
            more = len(refusals) - REFUSALS_SHOWN
            self.message_user(request, f"{more} more conversations were not changed.", messages.WARNING)

    def _assign(self, request: HttpRequest, queryset: QuerySet[Conversation], assignee: Any, done: str) -> None:
        actor = _user(request)
        self._apply(
            request,
            queryset,
            done,
            lambda c: services.conversation_assign(conversation=c, assignee=assignee, actor=actor),
        )

    def _set_status(self, request: HttpRequest, queryset: QuerySet[Conversation], status: str) -> None:
        actor = _user(request)
        self._apply(
            request,
            queryset,
            f"Set to {Status(status).label.lower()}:",
            lambda c: services.conversation_set_status(
                conversation=c, status=status, actor=actor, reason="back_office"
            ),
        )

    def _set_priority(self, request: HttpRequest, queryset: QuerySet[Conversation], priority: Priority) -> None:
        actor = _user(request)
        reason = f"bulk change in the back office by {actor.get_username()}"
        self._apply(
            request,
            queryset,
            f"Priority set to {priority.label}:",
            lambda c: services.conversation_set_priority(
                conversation=c, priority=priority.label, actor=actor, reason=reason
            ),
        )

    @admin.action(description="Assign to me", permissions=["change"])
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        self._assign(request, queryset, _user(request), "Assigned to you:")

    @admin.action(description="Assign to the chosen agent", permissions=["change"])
    def assign_to_chosen_agent(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        try:
            agent = ConversationActionForm.base_fields["agent"].clean(request.POST.get("agent"))
        except ValidationError:
            agent = None
        if agent is None:
            self.message_user(request, "Choose an agent beside the action, then run it again.", messages.WARNING)
            return
        self._assign(request, queryset, agent, f"Assigned to {agent.get_username()}:")

    @admin.action(description="Unassign", permissions=["change"])
    def unassign(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        self._assign(request, queryset, None, "Unassigned")

    @admin.action(description="Set status: active", permissions=["change"])
    def mark_active(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        self._set_status(request, queryset, Status.ACTIVE)

    @admin.action(description="Set status: pending", permissions=["change"])
    def mark_pending(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        self._set_status(request, queryset, Status.PENDING)

    @admin.action(description="Set status: resolved", permissions=["change"])
    def mark_resolved(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        self._set_status(request, queryset, Status.RESOLVED)

    @admin.action(description="Archive", permissions=["change"])
    def archive(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        self._set_status(request, queryset, Status.ARCHIVED)

    @admin.action(description="Set priority: urgent", permissions=["change"])
    def set_priority_urgent(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        self._set_priority(request, queryset, Priority.URGENT)

    @admin.action(description="Set priority: high", permissions=["change"])
    def set_priority_high(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        self._set_priority(request, queryset, Priority.HIGH)

    @admin.action(description="Set priority: normal", permissions=["change"])
    def set_priority_normal(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        self._set_priority(request, queryset, Priority.NORMAL)

    @admin.action(description="Set priority: low", permissions=["change"])
    def set_priority_low(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        self._set_priority(request, queryset, Priority.LOW)


@admin.register(Message)
class MessageAdmin(ConversationIdSearchAdmin, ReadOnlyAdmin, LargeTableAdmin):
    """Messages are written by the services (inbound channels, replies, notes): read-only here."""

    list_display = (
        "id",
        "conversation_id_link",
        "created_at",
        "direction",
        "sender_kind",
        "note_label",
        "excerpt",
        "delivery_status",
    )
    list_filter = ("direction", "sender_kind", "is_private_note", "delivery_status", "inbox")
    search_fields = ("channel_message_id__exact",)
    search_help_text = "A conversation id (1234 or #1234), or a channel's message id (a Twilio SID, ...)."
    ordering = ("-id",)
    raw_id_fields = ("conversation", "sender_contact")
    autocomplete_fields = ("sender_user",)
    fields = (
        "conversation",
        "inbox",
        "direction",
        "sender_kind",
        "sender_user",
        "sender_contact",
        "is_private_note",
        "subject",
        "body",
        "html",
        "channel_message_id",
        "delivery_status",
        "delivery_error",
        "confidence",
        "metadata",
        "created_at",
        "sent_at",
        "delivered_at",
    )

    @admin.display(description="conversation", ordering="conversation_id")
    def conversation_id_link(self, message: Message) -> str:
        return conversation_link(message.conversation_id)

    @admin.display(description="note")
    def note_label(self, message: Message) -> str:
        return "Private note" if message.is_private_note else ""

    @admin.display(description="body")
    def excerpt(self, message: Message) -> str:
        return Truncator(message.body or message.subject).chars(80)


@admin.register(Attachment)
class AttachmentAdmin(ConversationIdSearchAdmin, ReadOnlyAdmin):
    conversation_lookup = "message__conversation_id"
    list_display = ("filename", "content_type", "size", "message", "conversation_id_link", "created_at")
    list_select_related = ("message",)
    search_fields = ("filename",)
    ordering = ("-id",)
    raw_id_fields = ("message",)
    fields = ("message", "filename", "content_type", "size", "created_at")

    @admin.display(description="conversation")
    def conversation_id_link(self, attachment: Attachment) -> str:
        return conversation_link(attachment.message.conversation_id)


@admin.register(ConversationRead)
class ConversationReadAdmin(ConversationIdSearchAdmin, ReadOnlyAdmin):
    list_display = ("conversation_id_link", "user", "last_read_at")
    list_select_related = ("user",)
    search_fields = ("=user__username",)
    ordering = ("-last_read_at",)
    raw_id_fields = ("conversation",)
    autocomplete_fields = ("user",)

    @admin.display(description="conversation", ordering="conversation_id")
    def conversation_id_link(self, read: ConversationRead) -> str:
        return conversation_link(read.conversation_id)


@admin.register(ConversationEvent)
class ConversationEventAdmin(ConversationIdSearchAdmin, ReadOnlyAdmin, LargeTableAdmin):
    """The audit trail: append-only, so nothing can be added, changed or deleted here."""

    list_display = ("created_at", "conversation_id_link", "kind", "actor_kind", "actor", "details")
    list_filter = ("kind", "actor_kind")
    list_select_related = ("actor",)
    search_fields = ("=actor__username",)
    search_help_text = "A conversation id (1234 or #1234), or an agent's username."
    ordering = ("-id",)
    raw_id_fields = ("conversation", "message")
    autocomplete_fields = ("actor",)
    fields = ("conversation", "kind", "actor_kind", "actor", "message", "data", "created_at")

    def has_delete_permission(self, request: HttpRequest, obj: ConversationEvent | None = None) -> bool:
        return False

    @admin.display(description="conversation", ordering="conversation_id")
    def conversation_id_link(self, event: ConversationEvent) -> str:
        return conversation_link(event.conversation_id)

    @admin.display(description="details")
    def details(self, event: ConversationEvent) -> str:
        return Truncator(_event_details(event)).chars(120)


# --- Supporting records ----------------------------------------------------------------------


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):
    list_display = ("shortcut", "title", "team", "created_by", "created_at")
    list_filter = ("team",)
    list_select_related = ("team", "created_by")
    search_fields = ("shortcut", "title", "body")
    fields = ("shortcut", "title", "body", "team", "created_by", "created_at")
    readonly_fields = ("created_by", "created_at")

    def save_model(self, request: HttpRequest, obj: CannedResponse, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = _user(request)
        super().save_model(request, obj, form, change)


@admin.register(Notification)
class NotificationAdmin(ConversationIdSearchAdmin, ReadOnlyAdmin, LargeTableAdmin):
    list_display = ("created_at", "recipient", "kind", "title", "conversation_id_link", "read_at", "emailed_at")
    list_filter = ("kind", ("read_at", admin.EmptyFieldListFilter), ("emailed_at", admin.EmptyFieldListFilter))
    list_select_related = ("recipient",)
    search_fields = ("title", "=recipient__username")
    search_help_text = "A conversation id (1234 or #1234), words of the title, or the recipient's username."
    ordering = ("-id",)
    raw_id_fields = ("conversation",)
    autocomplete_fields = ("recipient",)
    fields = ("recipient", "kind", "conversation", "title", "body", "read_at", "emailed_at", "created_at")

    @admin.display(description="conversation", ordering="conversation_id")
    def conversation_id_link(self, notification: Notification) -> str:
        return conversation_link(notification.conversation_id)


@admin.register(Reminder)
class ReminderAdmin(ConversationIdSearchAdmin, ReadOnlyAdmin, LargeTableAdmin):
    list_display = ("remind_at", "user", "conversation_id_link", "note", "fired_at")
    list_filter = (("fired_at", admin.EmptyFieldListFilter),)
    list_select_related = ("user",)
    search_fields = ("note", "=user__username")
    search_help_text = "A conversation id (1234 or #1234), words of the note, or the agent's username."
    ordering = ("-id",)
    raw_id_fields = ("conversation",)
    autocomplete_fields = ("user",)
    fields = ("user", "conversation", "remind_at", "note", "fired_at", "created_at")

    @admin.display(description="conversation", ordering="conversation_id")
    def conversation_id_link(self, reminder: Reminder) -> str:
        return conversation_link(reminder.conversation_id)


class WebhookSubscriptionForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https", help_text="Where the signed events are posted.")
    event_types = forms.MultipleChoiceField(
        choices=WebhookEventType.choices, widget=forms.CheckboxSelectMultiple, help_text="The events to send."
    )

    class Meta:
        model = WebhookSubscription
        fields = ("url", "description", "event_types", "is_active")


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    form = WebhookSubscriptionForm
    list_display = ("url", "description", "event_list", "is_active", "created_by", "created_at")
    list_filter = ("is_active",)
    list_select_related = ("created_by",)
    search_fields = ("url", "description")
    fields = ("url", "description", "event_types", "is_active", "secret", "created_by", "created_at")
    readonly_fields = ("secret", "created_by", "created_at")

    def save_model(self, request: HttpRequest, obj: WebhookSubscription, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = _user(request)
        super().save_model(request, obj, form, change)

    @admin.display(description="events")
    def event_list(self, subscription: WebhookSubscription) -> str:
        types = subscription.event_types if isinstance(subscription.event_types, list) else []
        return ", ".join(map(str, types))


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(LargeTableAdmin, ReadOnlyAdmin):
    """The integrators' delivery log. Read-only: a delivery is sent again only through redelivery."""

    list_display = (
        "id",
        "event_type",
        "subscription",
        "outcome",
        "attempts",
        "status_code",
        "duration_ms",
        "created_at",
        "last_attempt_at",
        "next_attempt_at",
    )
    list_filter = ("outcome", "event_type", "subscription")
    list_select_related = ("subscription",)
    search_fields = ("=event_id",)
    search_help_text = "An event id (the X-Inbox-Delivery header)."
    ordering = ("-id",)
    actions = ("redeliver",)
    fields = (
        "subscription",
        "event_type",
        "event_id",
        "outcome",
        "attempts",
        "status_code",
        "duration_ms",
        "last_error",
        "created_at",
        "last_attempt_at",
        "next_attempt_at",
        "payload_pretty",
    )
    readonly_fields = fields

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_redeliver_permission(self, request: HttpRequest) -> bool:
        return is_supervisor(_user(request))

    @admin.display(description="payload")
    def payload_pretty(self, delivery: WebhookDelivery) -> str:
        return format_html("<pre>{}</pre>", json.dumps(delivery.payload, indent=2, ensure_ascii=False))

    @admin.action(description="Redeliver the selected deliveries", permissions=["redeliver"])
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        done, refused = 0, []
        for delivery in queryset.order_by("pk")[:500]:
            try:
                webhooks.delivery_redeliver(delivery=delivery, actor=_user(request))
                done += 1
            except webhooks.RedeliveryRefused as exc:
                refused.append(f"#{delivery.pk}: {exc}")
        if done:
            self.message_user(request, f"Queued {done} deliveries to be sent again.", messages.SUCCESS)
        for refusal in refused[:REFUSALS_SHOWN]:
            self.message_user(request, refusal, messages.WARNING)
