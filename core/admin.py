"""Operations in the back office (worker heartbeats), and what every app's admin shares.

``LargeTableAdmin`` is the base for the admins of tables that grow without bound (conversations,
messages, events, contacts, identities, notifications): their changelists never count every row.

The admin index lists the apps and their models in the order supervisors use them, not
alphabetically: the daily work (conversations, contacts) first, the setup after it, the
operational tables last.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from core.models import ApiToken, BeatLease, OutboxEntry, WorkerHeartbeat
from core.paginator import EstimatedCountPaginator


class LargeTableAdmin(admin.ModelAdmin):
    """A changelist that neither counts the whole table nor counts it twice."""

    show_full_result_count = False
    paginator = EstimatedCountPaginator


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by the application (through its services): supervisors look, never type."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdmin):
    list_display = ("name", "last_seen_at", "seconds_ago", "beats", "hostname")
    search_fields = ("name", "hostname")
    ordering = ("name",)
    fields = ("name", "last_seen_at", "beats", "hostname")

    @admin.display(description="seconds ago", ordering="last_seen_at")
    def seconds_ago(self, heartbeat: WorkerHeartbeat) -> int:
        return max(0, int((timezone.now() - heartbeat.last_seen_at) / timedelta(seconds=1)))


# --- The order of the admin index ------------------------------------------------------------

APP_ORDER: tuple[str, ...] = ("conversations", "routing", "analytics", "auth", "core")
MODEL_ORDER: dict[str, tuple[str, ...]] = {
    "conversations": (
        "Conversation",
        "Contact",
        "Inbox",
        "Team",
        "AgentProfile",
        "CannedResponse",
        "Tag",
        "SLAPolicy",
        "BusinessHours",
        "WebhookSubscription",
        "Notification",
        "Message",
        "ChannelIdentity",
        "Attachment",
        "ConversationEvent",
        "ConversationRead",
    ),
    "routing": ("RoutingRule", "KnowledgeArticle"),
    "auth": ("User", "Group"),
    "core": ("WorkerHeartbeat", "OutboxEntry", "BeatLease", "ApiToken"),
}


def _position(order: tuple[str, ...], name: str) -> int:
    return order.index(name) if name in order else len(order)


def order_app_list(app_list: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sort the index by APP_ORDER and MODEL_ORDER; anything not named there follows, alphabetically."""
    app_list = sorted(app_list, key=lambda app: (_position(APP_ORDER, app["app_label"]), app["name"].lower()))
    for app in app_list:
        order = MODEL_ORDER.get(app["app_label"], ())
        app["models"].sort(key=lambda model: (_position(order, model["object_name"]), model["name"]))
    return app_list


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "name", "user", "created_at", "expires_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    list_select_related = ("user",)
    search_fields = ("name", "prefix", "user__username", "user__email")
    fields = ("user", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at")
    readonly_fields = ("user", "prefix", "created_at", "last_used_at")
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # keys are issued by POST /api/v1/auth/token/ and shown once

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} token(s).")


@admin.register(OutboxEntry)
class OutboxEntryAdmin(LargeTableAdmin, ReadOnlyAdmin):
    """Follow-up work waiting, running, finished or dead-lettered (core/outbox.py): for looking, not typing."""

    list_display = ("pk", "task_name", "state", "attempts", "interrupted", "created_at", "available_at", "finished_at")
    list_filter = ("state", "task_name")
    search_fields = ("task_name", "dedup_key")
    fields = (
        "task_name",
        "args",
        "dedup_key",
        "state",
        "attempts",
        "interrupted",
        "lease_seconds",
        "created_at",
        "available_at",
        "finished_at",
        "last_error",
    )


@admin.register(BeatLease)
class BeatLeaseAdmin(ReadOnlyAdmin):
    list_display = ("name", "holder", "expires_at")
    fields = ("name", "holder", "expires_at")
