"""What the inbox page needs when it loads, read in a fixed number of queries.

The page embeds this as JSON (``json_script``, never executed) so it can draw the views,
filters, assignee and team pickers and the canned-response picker without a round trip;
everything that changes during the day is read over the REST API and kept fresh by /ws/agent/.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from conversations import notifications
from conversations.api.canned import agent_display_name
from conversations.api.selectors import agents_visible_to, canned_responses_for, inboxes_visible_to, teams_of
from conversations.models import Availability, ChannelKind, NotificationKind, Status, Tag, Team
from conversations.selectors import is_supervisor
from conversations.ui import connections


def inbox_page_data(user: Any) -> dict[str, Any]:
    profile = getattr(user, "agent_profile", None)
    agents = list(agents_visible_to(user).order_by("first_name", "username"))
    connected = connections.connected_user_ids(a.pk for a in agents)
    return {
        "me": {
            "id": user.pk,
            "name": agent_display_name(user),
            "username": user.get_username(),
            "email": user.email,
            "availability": profile.availability if profile is not None else Availability.OFFLINE,
            "is_supervisor": is_supervisor(user),
            "team_ids": list(teams_of(user).values_list("pk", flat=True)),
            "notification_preferences": notifications.preferences_of(user),
        },
        "company_name": settings.COMPANY_NAME,
        "max_attachment_bytes": settings.MAX_ATTACHMENT_BYTES,
        "inboxes": [{"id": i.pk, "name": i.name, "kind": i.kind} for i in inboxes_visible_to(user).order_by("name")],
        "channels": [{"kind": value, "label": label} for value, label in ChannelKind.choices],
        "statuses": [{"value": value, "label": label} for value, label in Status.choices],
        "priorities": ["urgent", "high", "normal", "low"],
        "agents": [
            {
                "id": a.pk,
                "name": agent_display_name(a),
                "email": a.email,
                "availability": a.agent_profile.availability,
                "connected": a.pk in connected,
            }
            for a in agents
        ],
        "teams": [{"id": t.pk, "name": t.name} for t in Team.objects.order_by("name")],
        "tags": list(Tag.objects.order_by("name").values_list("name", flat=True)[:500]),
        "canned_responses": [
            {"id": c.pk, "shortcut": c.shortcut, "title": c.title, "body": c.body}
            for c in canned_responses_for(user).order_by("shortcut")
        ],
        "notification_kinds": [{"kind": value, "label": label} for value, label in NotificationKind.choices],
    }
