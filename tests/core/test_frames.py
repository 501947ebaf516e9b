"""Live events under a real daphne: framed once per server, written to each agent's socket (core/frames.py).

The server is the product's ASGI application in a daphne child process (``daphne.testing``), on
this run's database and the production channel layer on Redis; the agents are real websocket
clients (the ``websockets`` library, which rejects any frame a server must not send).
"""

from __future__ import annotations

import contextlib
import functools
import json
import multiprocessing
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from websockets.sync.client import connect
from websockets.typing import Origin

from conversations import realtime
from core import frames
from tests import factories as f
from tests.servers import daphne_serving

# Frames made in the server process, counted in shared memory (the server is a forked child).
FRAMED = multiprocessing.Value("i", 0)


class CountedFrame(frames.PreparedMessage):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        with FRAMED.get_lock():
            FRAMED.value += 1


@pytest.fixture
def daphne_url(settings: Any, transactional_db: Any, monkeypatch: Any) -> Iterator[str]:
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "core.pubsub_layer.PubSubChannelLayer",
            "CONFIG": {"hosts": [os.environ["TEST_REDIS_URL"]], "prefix": f"frames-{time.monotonic_ns()}"},
        }
    }
    monkeypatch.setattr(frames, "PreparedMessage", CountedFrame)

    def application() -> Any:
        from inbox_project.asgi import application

        return application

    with daphne_serving(application) as url:
        yield url.replace("http", "ws", 1)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_an_event_is_framed_once_per_server_and_every_agent_reads_it_in_order(daphne_url):
    agents = [f.AgentFactory(username=f"agent{n}") for n in range(3)]
    inbox = f.InboxFactory(kind="sms", members=agents)
    with contextlib.ExitStack() as stack:
        sockets = []
        for agent in agents:
            url = f"{daphne_url}/ws/agent/?ticket={realtime.issue_ticket(agent.pk)}"
            socket = stack.enter_context(connect(url, origin=Origin("http://127.0.0.1:8000")))
            assert json.loads(socket.recv(timeout=10))["type"] == "hello"
            sockets.append(socket)
        FRAMED.value = 0
        # Customers write "<" and non-ASCII text: a frame's length is of the UTF-8 bytes, not the characters.
        texts = [json.dumps({"type": "message.created", "n": n, "body": "Grüße <b>€</b> " * n}) for n in range(1, 4)]
        # And one event for the first agent alone (a notification, realtime.Personal).
        hers = json.dumps({"type": "notification.created", "notification": {"id": 1}})
        message = realtime.delivery_message(*texts, personal={str(agents[0].pk): [hers]})
        async_to_sync(get_channel_layer().group_send)(realtime.inbox_group(inbox.pk), message)
        assert [sockets[0].recv(timeout=10) for _ in range(4)] == [*texts, hers]
        for socket in sockets[1:]:
            assert [socket.recv(timeout=10) for _ in texts] == texts
        assert FRAMED.value == len(texts) + 1  # once per text for the three sockets, not once per socket
        # The socket still speaks both ways after the prepared frames: a ping is answered.
        sockets[0].send(json.dumps({"type": "ping"}))
        assert json.loads(sockets[0].recv(timeout=10)) == {"type": "pong"}


def test_a_socket_served_by_anything_but_daphne_sends_as_usual():
    # The embedded runner and channels' test communicator: no daphne reply handler in the scope.
    assert frames.frame_writer({"type": "websocket"}) is None
    assert frames.frame_writer({"type": "websocket", frames.SCOPE_KEY: lambda message: None}) is None


class _Socket:
    """Stands for autobahn's server protocol as daphne holds it: a state and the broadcast API."""

    STATE_OPEN = 3

    def __init__(self, *, fails: bool = False) -> None:
        self.state = self.STATE_OPEN
        self.peer = "tcp:127.0.0.1:5555"
        self.fails = fails
        self.written: list[bytes] = []

    def sendPreparedMessage(self, frame: Any) -> None:  # autobahn's name
        if self.fails:
            raise ConnectionResetError("peer gone")
        self.written.append(frame.payloadHybi)


class _Server:
    """Stands for daphne's server: its connections, and the reply handler it binds to each socket."""

    def __init__(self) -> None:
        self.connections: dict[Any, dict[str, Any]] = {}

    async def handle_reply(self, protocol: Any, message: dict[str, Any]) -> None:
        raise AssertionError("the frames go around it")


def _writer(server: _Server, socket: _Socket) -> Any:
    server.connections[socket] = {"connected": 0.0}
    return frames.frame_writer({"type": "websocket", frames.SCOPE_KEY: functools.partial(server.handle_reply, socket)})


def test_a_socket_that_fails_to_take_its_frames_does_not_keep_them_from_the_next(caplog):
    server, broken, fine = _Server(), _Socket(fails=True), _Socket()
    message = realtime.delivery_message('{"type": "x"}')
    assert _writer(server, broken)(message, ()) is True  # logged and dropped, not raised into the layer's reader
    assert _writer(server, fine)(message, ()) is True
    assert fine.written == [b"\x81\x0d" + b'{"type": "x"}']  # one unmasked text frame, 13 bytes
    assert "live events not written to the socket of tcp:127.0.0.1:5555" in caplog.text


def test_a_socket_not_open_is_left_to_the_usual_path_and_a_gone_one_gets_nothing():
    server, closing, gone = _Server(), _Socket(), _Socket()
    message = realtime.delivery_message('{"type": "x"}')
    closing_writer, gone_writer = _writer(server, closing), _writer(server, gone)
    closing.state = 2  # closing: autobahn's own send decides what still goes
    assert closing_writer(message, ()) is False
    server.connections[gone]["disconnected"] = 1.0
    assert gone_writer(message, ()) is True
    assert closing.written == gone.written == []
