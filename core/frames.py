"""Live events framed once per web server and written to each agent's socket as they are.

A live event goes to every agent of an inbox: under daphne, each socket's copy went through
channels' session wrapper, daphne's reply handling and autobahn's framing, one by one, though
every copy is the same frame (a server's frames are not masked). With 100 agents per server that
was most of a daphne's event loop while webhooks arrived (bench.live, py-spy: two fifths of it,
the writes to the sockets another fifth). autobahn's own broadcast API frames a message once
(``PreparedMessage``) and writes it to any number of connections (``sendPreparedMessage``);
this module lets a consumer reach it.

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


def _frame(text: str) -> PreparedMessage:
    """A server's text frame (unmasked), never compressed: valid on any connection, compression or not."""
    return PreparedMessage(text.encode(), False, False, True)


def frames(message: MutableMapping[str, Any]) -> list[PreparedMessage]:
    """The message's texts as server frames, framed at the first call and kept in the message."""
    prepared = message.get(FRAMES_KEY)
    if prepared is None:
        prepared = [_frame(text) for text in message["texts"]]
        message[FRAMES_KEY] = prepared
    return prepared


def frame_writer(scope: dict[str, Any]) -> FrameWriter | None:
    """A writer of prepared frames to this socket when daphne serves it; None under any other server."""
    send = scope.get(SCOPE_KEY)
    if not isinstance(send, functools.partial) or len(send.args) != 1:
        return None
    server = getattr(send.func, "__self__", None)
    protocol = send.args[0]
    connections = getattr(server, "connections", None)
    if not isinstance(connections, dict) or not hasattr(protocol, "sendPreparedMessage"):
        return None
    state_open = protocol.STATE_OPEN

    def write(message: MutableMapping[str, Any], own: Sequence[str] = ()) -> bool:
        if protocol.state != state_open:
            return False  # not yet open, or closing: the usual path knows what to do
        connection = connections.get(protocol)
        if connection is None or connection.get("disconnected"):
            return True  # gone: daphne would drop it too
        try:
            for frame in frames(message):
                protocol.sendPreparedMessage(frame)
            for text in own:  # this socket's alone: framed for it
                protocol.sendPreparedMessage(_frame(text))
        except Exception:
            # Written from the channel layer's reader, between other sockets' writes: a failure here
            # must not keep the event from them. This socket's page resyncs when it reconnects.
            logger.exception("live events not written to the socket of %s", getattr(protocol, "peer", "a client"))
        return True

    return write
