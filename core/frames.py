"""Live events framed once per web server and written to each agent's socket as they are.

A live event goes to every agent of an inbox: under daphne, each socket's copy went through
channels' session wrapper, daphne's reply handling and autobahn's framing, one by one, though
every copy is the same frame (a server's frames are not masked). With 100 agents per server that
was most of a daphne's event loop while webhooks arrived (bench.live, py-spy: two fifths of it,
the writes to the sockets another fifth). Here a message's texts are framed once per server, as
autobahn's broadcast API (``PreparedMessage``) frames them, and each socket is handed the same
bytes in one write, straight to the kernel when nothing waits before them (:func:`_write_now`).

:class:`KeepServerSend`, outermost in the websocket stack, keeps the server's own ``send`` in
the scope. Under daphne that is its reply handler bound to the socket's protocol, from which
:func:`frame_writer` makes a writer; under any other server (the embedded runner, tests'
communicators) there is none and the consumer sends as usual. The writer sends nothing on a
socket that is not open, as daphne would not, and a socket whose write fails is logged and
skipped: the writes happen one socket after another in the channel layer's reader.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, MutableMapping, Sequence
from typing import Any

from autobahn.websocket.protocol import PreparedMessage
from twisted.internet import tcp

logger = logging.getLogger(__name__)

SCOPE_KEY = "inbox.server_send"
# Where a delivered message keeps its frames once framed: the message is decoded once per server
# (core/pubsub_layer.py) and the same dictionary is handed to each of its sockets.
FRAMES_KEY = "_frames"

# Writes a delivered message's texts, then the socket's own texts, as frames; False when it could
# not (send as usual).
FrameWriter = Callable[[MutableMapping[str, Any], Sequence[str]], bool]


class KeepServerSend:
    """ASGI middleware: keep the server's ``send`` of each websocket in its scope (``SCOPE_KEY``)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope.get("type") == "websocket":
            scope = {**scope, SCOPE_KEY: send}
        return await self.app(scope, receive, send)


def _frame(text: str) -> bytes:
    """A server's text frame (unmasked) on the wire, never compressed: valid on any connection, compression or not."""
    return bytes(PreparedMessage(text.encode(), False, False, True).payloadHybi)


def frames(message: MutableMapping[str, Any]) -> bytes:
    """The message's texts as server frames, one after the other: framed at the first call and kept in the message."""
    framed = message.get(FRAMES_KEY)
    if framed is None:
        framed = b"".join(_frame(text) for text in message["texts"])
        message[FRAMES_KEY] = framed
    return framed


def _write(protocol: Any, data: bytes) -> None:
    """Write a socket's frames: now if it can take them (:func:`_write_now`), else as autobahn writes them."""
    if protocol.send_queue or not _write_now(protocol.transport, data):
        protocol.sendData(data)


def _write_now(transport: Any, data: bytes) -> bool:
    """Hand bytes to the kernel at once when nothing waits before them; False (nothing done) when something does.

    autobahn's ``sendData`` gives them to Twisted, which adds the socket to the event loop's
    writers and removes it again once a later turn of the loop has written them: per socket and
    event, two changes to the poller and a trip through Twisted's logging context, most of what a
    daphne still did for a live event once frames were made once (bench.live, py-spy). A socket
    with room in its kernel buffer (almost always: a live event is a few hundred bytes) takes
    them here; what it does not take is queued behind, the usual way, so the bytes keep their order.
    """
    if not isinstance(transport, tcp.Connection) or _waiting(transport):
        return False
    sent = transport.writeSomeData(data)
    if not isinstance(sent, int):  # the connection is lost: Twisted finds out on its next write, as it would
        sent = 0
    if sent < len(data):
        transport.write(data[sent:])
    return True


def _waiting(transport: Any) -> bool:
    """Bytes Twisted holds for the socket, or a transport that is not plainly open for writing (or speaks TLS).

    A producer registered on the transport (the HTTP channel the socket was upgraded from) needs
    no care: it is paused only when Twisted's buffer fills, and then bytes are waiting.
    """
    return bool(
        len(transport.dataBuffer) > transport.offset
        or transport._tempDataLen
        or getattr(transport, "TLS", False)
        or not transport.connected
        or transport.disconnecting
        or transport._writeDisconnected
    )


def frame_writer(scope: dict[str, Any]) -> FrameWriter | None:
    """A writer of framed events to this socket when daphne serves it; None under any other server."""
    send = scope.get(SCOPE_KEY)
    if not isinstance(send, functools.partial) or len(send.args) != 1:
        return None
    server = getattr(send.func, "__self__", None)
    protocol = send.args[0]
    connections = getattr(server, "connections", None)
    if not isinstance(connections, dict) or not hasattr(protocol, "sendData"):
        return None
    state_open = protocol.STATE_OPEN

    def write(message: MutableMapping[str, Any], own: Sequence[str] = ()) -> bool:
        if protocol.state != state_open:
            return False  # not yet open, or closing: the usual path knows what to do
        connection = connections.get(protocol)
        if connection is None or connection.get("disconnected"):
            return True  # gone: daphne would drop it too
        try:
            data = frames(message)
            if own:  # this socket's alone: framed for it, after the group's
                data += b"".join(_frame(text) for text in own)
            _write(protocol, data)
        except Exception:
            # Written from the channel layer's reader, between other sockets' writes: a failure here
            # must not keep the event from them. This socket's page resyncs when it reconnects.
            logger.exception("live events not written to the socket of %s", getattr(protocol, "peer", "a client"))
        return True

    return write
