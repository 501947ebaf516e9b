"""Live events committed in a web server's sync thread are sent by the server's event loop, in order."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from conversations import realtime


class GatedLayer:
    """A channel layer whose sends wait until the test opens the gate."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.sent: list[tuple[str, int]] = []

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        await self.gate.wait()
        self.sent.append((group, message["event"]["n"]))


def test_a_view_does_not_wait_for_its_events_and_they_go_out_in_commit_order(monkeypatch: pytest.MonkeyPatch) -> None:
    layer = GatedLayer()
    monkeypatch.setattr(realtime, "get_channel_layer", lambda: layer)

    def commits_in_a_view() -> None:  # Django's sync thread under daphne: each commit's events
        for n in range(5):
            realtime._deliver_all([({"type": "message.created", "n": n}, ["inbox.1", "inbox.2"])])

    async def server() -> None:
        # Waiting for the layer here would never end: the gate opens only after the view returns.
        await asyncio.wait_for(sync_to_async(commits_in_a_view)(), timeout=5)
        assert layer.sent == []
        layer.gate.set()
        await realtime.delivered()

    async_to_sync(server)()
    assert layer.sent == [(group, n) for n in range(5) for group in ("inbox.1", "inbox.2")]


def test_outside_a_web_server_the_events_are_sent_before_returning(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Celery task or a management command: no server loop to hand them to, so they are sent at once."""
    layer = GatedLayer()
    layer.gate.set()
    monkeypatch.setattr(realtime, "get_channel_layer", lambda: layer)
    realtime._deliver_all([({"type": "message.created", "n": 7}, ["inbox.1"])])
    assert layer.sent == [("inbox.1", 7)]
