"""Canned responses with their variables filled in for one conversation."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.utils import timezone

from conversations.models import CannedResponse, Conversation

_VARIABLE = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def agent_display_name(user: Any) -> str:
    profile = getattr(user, "agent_profile", None)
    if profile is not None:
        return str(profile.name)
    return str(user.get_full_name() or user.get_username())


def render_canned_response(canned: CannedResponse, *, conversation: Conversation, agent: Any) -> str:
    """Fill {{customer_name}}, {{agent_name}}, {{company_name}}, {{date}} and {{time}}; unknown ones stay."""
    now = timezone.localtime()
    values = {
        "customer_name": conversation.contact.name or "there",
        "agent_name": agent_display_name(agent),
        "company_name": settings.COMPANY_NAME,
        "date": now.strftime("%Y-%m-%d"),
        "time": now.strftime("%H:%M"),
    }
    return _VARIABLE.sub(lambda match: values.get(match.group(1), match.group(0)), canned.body)
