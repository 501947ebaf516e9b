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
from twisted.internet import tcp
from twisted.internet.error import ConnectionLost
from websockets.sync.client import connect
from websockets.typing import Origin

from conversations import realtime
from core import frames
from tests import factories as f
from tests.servers import daphne_serving

# Frames made, and writes handed straight to the kernel, in the server process: counted in shared
# memory (the server is a forked child).
FRAMED = multiprocessing.Value("i", 0)
WRITTEN_NOW = multiprocessing.Value("i", 0)


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
    write_now = frames._write_now

    def counted_write_now(transport: Any, data: bytes) -> bool:
        written = write_now(transport, data)
        with WRITTEN_NOW.get_lock():
            WRITTEN_NOW.value += written
        return written

    monkeypatch.setattr(frames, "_write_now", counted_write_now)

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
        FRAMED.value = WRITTEN_NOW.value = 0
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
        # Each socket's frames in one write, straight to the kernel (counted just after the write,
        # which the client may have read already).
        deadline = time.monotonic() + 10
        while WRITTEN_NOW.value < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert WRITTEN_NOW.value == 3
        # The socket still speaks both ways after the prepared frames: a ping is answered.
        sockets[0].send(json.dumps({"type": "ping"}))
        assert json.loads(sockets[0].recv(timeout=10)) == {"type": "pong"}


def test_a_socket_served_by_anything_but_daphne_sends_as_usual():
    # The embedded runner and channels' test communicator: no daphne reply handler in the scope.
    assert frames.frame_writer({"type": "websocket"}) is None
    assert frames.frame_writer({"type": "websocket", frames.SCOPE_KEY: lambda message: None}) is None


class _Transport(tcp.Server):
    """Stands for Twisted's TCP transport: takes ``room`` bytes at once and queues what is written after."""

    def __init__(self, room: int = 1 << 16) -> None:  # no socket, no reactor
        self.room = room
        self.dataBuffer, self.offset, self._tempDataLen = b"", 0, 0
        self.connected, self.disconnecting, self._writeDisconnected, self.TLS = 1, False, False, False
        self.taken: list[bytes] = []
        self.queued: list[bytes] = []

    def writeSomeData(self, data: bytes) -> int | ConnectionLost:
        if self.room < 0:
            return ConnectionLost()
        taken = bytes(data[: self.room])
        self.taken.append(taken)
        return len(taken)

    def write(self, data: bytes) -> None:
        self.queued.append(bytes(data))
        self._tempDataLen += len(data)


class _Socket:
    """Stands for autobahn's server protocol as daphne holds it: a state, a transport and autobahn's send."""

    STATE_OPEN = 3

    def __init__(self, *, fails: bool = False, transport: Any = None) -> None:
        self.state = self.STATE_OPEN
        self.peer = "tcp:127.0.0.1:5555"
        self.fails = fails
        self.transport = transport
        self.send_queue: list[Any] = []
        self.written: list[bytes] = []

    def sendData(self, data: bytes) -> None:  # autobahn's name
        if self.fails:
            raise ConnectionResetError("peer gone")
        self.written.append(data)


class _Server:
    """Stands for daphne's server: its connections, and the reply handler it binds to each socket."""

    def __init__(self) -> None:
        self.connections: dict[Any, dict[str, Any]] = {}

    async def handle_reply(self, protocol: Any, message: dict[str, Any]) -> None:
        raise AssertionError("the frames go around it")


def _writer(server: _Server, socket: _Socket) -> Any:
    server.connections[socket] = {"connected": 0.0}
    return frames.frame_writer({"type": "websocket", frames.SCOPE_KEY: functools.partial(server.handle_reply, socket)})


X = b"\x81\x0d" + b'{"type": "x"}'  # '{"type": "x"}' as one unmasked text frame, 13 bytes


def test_a_socket_that_fails_to_take_its_frames_does_not_keep_them_from_the_next(caplog):
    server, broken, fine = _Server(), _Socket(fails=True), _Socket()
    message = realtime.delivery_message('{"type": "x"}')
    assert _writer(server, broken)(message, ()) is True  # logged and dropped, not raised into the layer's reader
    assert _writer(server, fine)(message, ()) is True
    assert fine.written == [X]
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


def test_a_socket_with_room_takes_all_its_frames_in_one_write_to_the_kernel():
    socket = _Socket(transport=_Transport())
    message = realtime.delivery_message('{"type": "x"}', '{"type": "x"}', personal={"7": ['{"type": "x"}']})
    assert _writer(_Server(), socket)(message, ['{"type": "x"}']) is True
    assert socket.transport.taken == [X * 3]  # the group's two, then its own
    assert socket.transport.queued == socket.written == []


def test_what_the_kernel_does_not_take_is_queued_behind_and_later_frames_wait_their_turn():
    socket = _Socket(transport=_Transport(room=5))
    writer = _writer(_Server(), socket)
    writer(realtime.delivery_message('{"type": "x"}'), ())
    assert socket.transport.taken == [X[:5]]
    assert socket.transport.queued == [X[5:]]
    # Bytes are waiting now: the next frames go behind them through autobahn, not around them.
    writer(realtime.delivery_message('{"type": "x"}'), ())
    assert socket.transport.taken == [X[:5]]
    assert socket.written == [X]


def test_frames_go_the_usual_way_on_a_lost_connection_tls_or_autobahn_queue():
    lost = _Socket(transport=_Transport(room=-1))
    _writer(_Server(), lost)(realtime.delivery_message('{"type": "x"}'), ())
    assert lost.transport.queued == [X]  # Twisted finds the connection lost and closes it as usual
    tls = _Socket(transport=_Transport())
    tls.transport.TLS = True  # the bytes must go through TLS: never straight to the kernel
    queueing = _Socket(transport=_Transport())
    queueing.send_queue.append((b"earlier", False))  # autobahn holds earlier bytes for this socket
    for socket in (tls, queueing):
        _writer(_Server(), socket)(realtime.delivery_message('{"type": "x"}'), ())
        assert socket.transport.taken == []
        assert socket.written == [X]
    plain = _Socket()  # a transport that is not Twisted's TCP one
    _writer(_Server(), plain)(realtime.delivery_message('{"type": "x"}'), ())
    assert plain.written == [X]
