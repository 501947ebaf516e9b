"""The list's ``?view=`` shows exactly what the view's count counts (the inbox's left column)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from conversations.api.selectors import VIEW_NAMES
from conversations.models import Handler, Status
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def day(agent: Any, teammate: Any, inbox: Any, sms_inbox: Any, team: Any) -> dict[str, Any]:
    make = f.ConversationFactory
    return {
        "mine_attention": make(inbox=inbox, assignee=agent, team=team, last_message_direction="in"),
        "mine_waiting": make(inbox=inbox, assignee=agent, team=team, last_message_direction="out"),
        "mine_pending": make(inbox=sms_inbox, assignee=agent, team=team, status=Status.PENDING),
        "bobs": make(inbox=inbox, assignee=teammate, team=team, last_message_direction="in"),
        "unassigned_bot": make(inbox=sms_inbox, team=team, handler=Handler.BOT),
        "resolved": make(inbox=inbox, status=Status.RESOLVED),
    }


def count_of(counts: dict[str, Any], view: str) -> int | None:
    group, _, sub = view.partition(".")
    if view == "bot_handled":
        return int(counts["bot_handled"])
    if group == "channel":
        return int(counts["by_channel"][sub])
    if sub:
        return int(counts[group][sub])
    return None  # the top-level views are the sum of their parts on the page


def test_every_view_lists_what_its_count_counts(client: Client, agent: Any, day: dict[str, Any]) -> None:
    client.force_login(agent)
    counts = client.get("/api/v1/conversations/counts/").json()
    for view in VIEW_NAMES:
        body = client.get("/api/v1/conversations/", {"view": view, "page_size": 100}).json()
        expected = count_of(counts, view)
        if expected is not None:
            assert len(body["results"]) == expected, view
    mine = client.get("/api/v1/conversations/", {"view": "mine.needs_my_attention"}).json()["results"]
    assert [c["id"] for c in mine] == [day["mine_attention"].pk]
    unassigned = client.get("/api/v1/conversations/", {"view": "team.unassigned"}).json()["results"]
    assert [c["id"] for c in unassigned] == [day["unassigned_bot"].pk]
    assert counts["all"]["active"] == 4 and counts["mine"]["ready_to_close"] == 1


def test_outsider_sees_nothing_in_any_view(client: Client, outsider: Any, day: dict[str, Any]) -> None:
    client.force_login(outsider)
    for view in VIEW_NAMES:
        assert client.get("/api/v1/conversations/", {"view": view}).json()["results"] == [], view


def test_unknown_view_is_a_400_that_names_the_views(client: Client, agent: Any) -> None:
    client.force_login(agent)
    response = client.get("/api/v1/conversations/", {"view": "everything%"})
    assert response.status_code == 400
    assert "mine.needs_my_attention" in response.json()["error"]["fields"]["view"][0]
