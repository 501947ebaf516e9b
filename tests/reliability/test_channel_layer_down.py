"""4. The channel layer down: agents' pushes fail, the changes do not, and the REST catch-up shows every message.

The channel layer is channels_redis pointed at a port where no Redis answers (as when Redis is
down). Replies, notes and inbound messages still commit and answer; each failed push is logged;
a client that reconnects asks ``updated_since`` and finds every change. (The agent UI's own
resync over that catch-up is the UI's test.)
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from conversations import services
from tests.core.test_run_modes import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def layer_down(settings: Any) -> None:
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{free_port()}/0"]},
        }
    }


def test_changes_commit_while_pushes_fail_and_the_rest_catch_up_shows_them(
    layer_down: None, agent: Any, conversation: Any, caplog: Any
) -> None:
    since = (timezone.now() - timedelta(seconds=1)).isoformat()
    api = APIClient()
    api.force_authenticate(agent)
    with caplog.at_level(logging.ERROR, logger="conversations.realtime"):
        reply = api.post(f"/api/v1/conversations/{conversation.pk}/messages/", {"body": "We are on it"}, format="json")
        note = api.post(
            f"/api/v1/conversations/{conversation.pk}/messages/",
            {"body": "Checked the order", "private": True},
            format="json",
        )
        inbound = services.message_receive_inbound(
            inbox=conversation.inbox, identity_kind="email", identity_value="dan@example.com", body="Hello?"
        )
    assert reply.status_code == 201 and note.status_code == 201
    assert "was not delivered" in caplog.text  # the pushes really failed

    listed = api.get("/api/v1/conversations/", {"updated_since": since}).json()["results"]
    assert {c["id"] for c in listed} >= {conversation.pk, inbound.message.conversation_id}
    bodies = [m["body"] for m in api.get(f"/api/v1/conversations/{conversation.pk}/messages/").json()["results"]]
    assert "We are on it" in bodies and "Checked the order" in bodies
