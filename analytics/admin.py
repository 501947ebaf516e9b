"""Satisfaction ratings in the back office: written by the survey, read here."""

from __future__ import annotations

from django.contrib import admin
from django.utils.text import Truncator

from analytics.models import CSATResponse
from conversations.admin import ConversationIdSearchAdmin, conversation_link
from core.admin import ReadOnlyAdmin


@admin.register(CSATResponse)
class CSATResponseAdmin(ConversationIdSearchAdmin, ReadOnlyAdmin):
    list_display = ("conversation_id_link", "rating", "agent", "comment_excerpt", "requested_at", "answered_at")
    list_filter = ("rating", ("answered_at", admin.EmptyFieldListFilter), "agent")
    list_select_related = ("agent",)
    search_fields = ("comment",)
    search_help_text = "A conversation id (1234 or #1234), or words of the comment."
    ordering = ("-requested_at",)
    raw_id_fields = ("conversation", "resolution_event")
    autocomplete_fields = ("agent",)
    # The survey token is the customer's key to answer: it is not shown.
    fields = ("conversation", "resolution_event", "agent", "rating", "comment", "requested_at", "answered_at")

    @admin.display(description="conversation", ordering="conversation_id")
    def conversation_id_link(self, response: CSATResponse) -> str:
        return conversation_link(response.conversation_id)

    @admin.display(description="comment")
    def comment_excerpt(self, response: CSATResponse) -> str:
        return Truncator(response.comment).chars(80)
