"""Routing rules and the assistant's knowledge base in the back office."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.text import Truncator

from routing.models import KnowledgeArticle, RoutingRule


def _condition_text(condition: Any) -> str:
    if not isinstance(condition, dict):
        return "?"
    return f"{condition.get('field')} {condition.get('operator')} {condition.get('value')}"


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    """Rules run in ``position`` order; the order is edited right in the list. ``clean()`` checks each rule."""

    list_display = ("position", "name", "is_active", "inbox", "match", "condition_summary", "action_summary")
    list_display_links = ("name",)
    list_editable = ("position", "is_active")
    list_filter = ("is_active", "match", "inbox")
    list_select_related = ("inbox",)
    search_fields = ("name",)
    ordering = ("position", "id")
    fieldsets = (
        (None, {"fields": ("name", "position", "is_active", "inbox", "stop_processing", "created_at")}),
        (
            "When",
            {
                "fields": ("match", "conditions"),
                "description": (
                    'A list of {"field": ..., "operator": ..., "value": ...}; fields are channel, inbox, keywords, '
                    "topic, language, location, segment, priority; operators are is, is_not, in, contains_any."
                ),
            },
        ),
        (
            "Then",
            {
                "fields": ("actions",),
                "description": (
                    'An object with any of "team" (id), "agent" (user id), "tags" (names), "priority" '
                    '(urgent, high, normal, low) and "sla_policy" (id).'
                ),
            },
        ),
    )
    readonly_fields = ("created_at",)

    @admin.display(description="when")
    def condition_summary(self, rule: RoutingRule) -> str:
        conditions = rule.conditions if isinstance(rule.conditions, list) else []
        joiner = " and " if rule.match == "all" else " or "
        return Truncator(joiner.join(_condition_text(c) for c in conditions) or "always").chars(100)

    @admin.display(description="then")
    def action_summary(self, rule: RoutingRule) -> str:
        actions = rule.actions if isinstance(rule.actions, dict) else {}
        return Truncator(", ".join(f"{key}: {value}" for key, value in actions.items())).chars(100)


@admin.register(KnowledgeArticle)
class KnowledgeArticleAdmin(admin.ModelAdmin):
    list_display = ("title", "topic", "inbox", "is_published", "updated_at")
    list_filter = ("is_published", "topic", "inbox")
    list_select_related = ("inbox",)
    search_fields = ("title", "body", "keywords")
    fields = ("title", "body", "keywords", "topic", "inbox", "is_published", "created_by", "created_at", "updated_at")
    readonly_fields = ("created_by", "created_at", "updated_at")

    def save_model(self, request: HttpRequest, obj: KnowledgeArticle, form: Any, change: bool) -> None:
        if not change:
            author: Any = request.user
            obj.created_by = author
        super().save_model(request, obj, form, change)
