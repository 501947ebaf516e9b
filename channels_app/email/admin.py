from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from channels_app.email.models import MailboxState


@admin.register(MailboxState)
class MailboxStateAdmin(admin.ModelAdmin):
    """What the poller knows of each mailbox: supervisors look here when mail stops arriving."""

    list_display = (
        "inbox",
        "last_polled_at",
        "last_uid",
        "uidvalidity",
        "messages_stored",
        "messages_skipped",
        "last_error",
    )
    readonly_fields = [field.name for field in MailboxState._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
