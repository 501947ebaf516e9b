"""Inboxes and a hand-built conversation with known metrics."""

from __future__ import annotations

from typing import Any

import pytest

from tests import factories as f
from tests.analytics.helpers import at, customer, reply, resolve


@pytest.fixture
def human_inbox(agent: Any, teammate: Any, team: Any) -> Any:
    return f.InboxFactory(
        name="SMS line", kind="sms", members=[agent, teammate], default_team=team, assistant_enabled=False
    )


@pytest.fixture
def assistant_inbox(agent: Any, teammate: Any, team: Any) -> Any:
    return f.InboxFactory(
        name="WhatsApp", kind="whatsapp", members=[agent, teammate], default_team=team, assistant_enabled=True
    )


@pytest.fixture
def reopened_conversation(human_inbox: Any, agent: Any, teammate: Any) -> Any:
    """Monday: asked, answered in 10 min, asked twice more, answered 30 min after the first, resolved.
    Tuesday: the customer comes back, Bob answers in 20 min and resolves an hour after the reopening."""
    with at("2026-03-02T09:00:00"):
        conversation = customer(human_inbox, "My card reader will not pair.").conversation
    with at("2026-03-02T09:10:00"):
        reply(conversation, agent)
    with at("2026-03-02T09:30:00"):
        customer(human_inbox, "Still nothing.")
    with at("2026-03-02T09:31:00"):
        customer(human_inbox, "Hello?")
    with at("2026-03-02T10:00:00"):
        reply(conversation, agent, "Try holding the button for ten seconds.")
    with at("2026-03-02T10:30:00"):
        resolve(conversation, agent)
    with at("2026-03-03T08:00:00"):
        customer(human_inbox, "It stopped pairing again.")
    with at("2026-03-03T08:20:00"):
        reply(conversation, teammate)
    with at("2026-03-03T09:00:00"):
        resolve(conversation, teammate)
    return conversation
