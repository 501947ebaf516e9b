"""The SLA state in the API: on the list (with no query per row) and on the detail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from rest_framework.test import APIClient

from conversations import services
from conversations.models import Conversation, Status
from core.models import ApiToken
from tests import factories as f

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 6, 10, 10, 0, tzinfo=UTC)
URL = "/api/v1/conversations/"


@pytest.fixture
def desk(db: Any, agent: Any, teammate: Any, team: Any) -> Any:
    policy = f.SLAPolicyFactory(first_response_minutes=60, next_response_minutes=30, resolution_minutes=600)
    return f.InboxFactory(
        name="Desk",
        kind="sms",
        members=[agent, teammate],
        default_team=team,
        sla_policy=policy,
        assistant_enabled=False,
    )


@pytest.fixture
def api(agent: Any) -> APIClient:
    _token, key = ApiToken.issue(user=agent, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def receive(inbox: Any, phone: str) -> Conversation:
    return services.message_receive_inbound(
        inbox=inbox, identity_kind="phone", identity_value=phone, body="help"
    ).message.conversation


def by_id(response: Any) -> dict[int, dict[str, Any]]:
    return {row["id"]: row for row in response.json()["results"]}


def test_the_list_shows_each_conversations_sla_state(api, desk, sms_inbox, agent):
    with time_machine.travel(T0, tick=False) as clock:
        late = receive(desk, "+14155550301")  # will be past its first response
        clock.shift(timedelta(minutes=20))
        close = receive(desk, "+14155550302")  # will be at 80% of it
        clock.shift(timedelta(minutes=20))
        fresh = receive(desk, "+14155550303")
        done = receive(desk, "+14155550304")
        services.message_send_reply(conversation=done, author=agent, body="Fixed")
        services.conversation_set_status(conversation=done, status=Status.RESOLVED, actor=agent)
        untracked = receive(sms_inbox, "+14155550305")
        clock.shift(timedelta(minutes=30))  # T0 + 70 minutes
        rows = by_id(api.get(URL))
    assert rows[late.pk]["sla"]["state"] == "breached"
    assert rows[close.pk]["sla"]["state"] == "warning"
    assert rows[fresh.pk]["sla"] == {
        "state": "on_track",
        "due_at": "2026-06-10T11:40:00Z",
        "targets": {
            "first_response": {"state": "on_track", "due_at": "2026-06-10T11:40:00Z", "outcome": None},
            "resolution": {"state": "on_track", "due_at": "2026-06-10T20:40:00Z", "outcome": None},
        },
    }
    assert rows[done.pk]["sla"]["state"] == "met" and rows[done.pk]["sla"]["due_at"] is None
    assert rows[untracked.pk]["sla"] == {"state": None, "due_at": None, "targets": {}}


def test_the_detail_shows_the_targets_and_their_due_times(api, desk, agent):
    with time_machine.travel(T0, tick=False) as clock:
        conversation = receive(desk, "+14155550310")
        clock.shift(timedelta(minutes=90))
        services.message_send_reply(conversation=conversation, author=agent, body="Sorry")
        body = api.get(f"{URL}{conversation.pk}/").json()
    assert body["sla"]["state"] == "breached"  # a missed first response stays on the record
    assert body["sla"]["targets"]["first_response"]["outcome"] == "missed"
    assert body["sla"]["due_at"] == body["resolution_due_at"] == "2026-06-10T20:00:00Z"
    assert body["first_response_due_at"] is None


@pytest.mark.parametrize("size", [5, 50])
def test_the_list_with_sla_states_takes_constant_queries(api, desk, size, django_assert_num_queries):
    with time_machine.travel(T0, tick=False):
        for i in range(size):
            receive(desk, f"+1415555{i:04d}")
    api.get(URL)  # the token's last_used_at is written once
    with django_assert_num_queries(5):  # token, conversations (with contacts), tags, inboxes, teams; no assignees
        response = api.get(URL, {"page_size": size})
    assert [row["sla"]["state"] for row in response.json()["results"]] == ["breached"] * size


def test_the_schema_describes_the_sla_field(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    sla = schema["components"]["schemas"]["SLA"]
    assert set(sla["properties"]) == {"state", "due_at", "targets"}
    paths = schema["paths"]
    assert "/api/v1/conversations/{id}/remind/" in paths
    assert "/api/v1/notifications/preferences/" in paths
