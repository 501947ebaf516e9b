"""The one gateway for live events: everything that reaches a websocket goes through here.

Events are sent after the transaction commits, so a socket never announces a change that
was rolled back, and a client that hears of a change can read it over REST at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import os
import threading
import weakref
from collections.abc import Iterator
from typing import Any

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core import signing
from django.db import transaction

from conversations.event_schema import validate_event

logger = logging.getLogger(__name__)

TICKET_SALT = "realtime.ticket"
TICKET_MAX_AGE_SECONDS = 60

# The message type that consumers handle: ``{"type": DELIVERY_TYPE, "event": {...}, "text": "<the event as JSON>"}``.
DELIVERY_TYPE = "live.event"


def inbox_group(inbox_id: int) -> str:
    """Agents allowed to see the inbox's conversations."""
    return f"inbox.{inbox_id}"


def presence_group(inbox_id: int) -> str:
    """The inbox's pages that show which agents are connected (the agents' socket with ``?presence=1``).

    Apart from ``inbox_group`` because each socket that opens or closes tells it: sent to every
    socket of the inbox, 200 agents connecting made 40,000 deliveries that most clients dropped.
    """
    return f"presence.{inbox_id}"


def user_group(user_id: int) -> str:
    """One agent's own events (notifications, presence requests)."""
    return f"user.{user_id}"


class Personal(str):
    """A user's own group (equal to ``user_group``) whose events travel in the message of a group she is in.

    A new conversation tells each of an inbox's 200 members of their own notification: 200 groups,
    200 messages for the channel layer and for every web server to decode, most of a server's pub/sub
    reading (bench.live, py-spy). Addressed as ``Personal(user_id, via=inbox_group(...))``, they go
    in the inbox group's one message instead (:func:`delivery_message`), each socket of the group
    forwarding only its own user's. Only for users whose sockets are all in ``via`` (an inbox's
    members, for its group). Everything else sees the user group's name.
    """

    via: str
    user_key: str

    def __new__(cls, user_id: int, *, via: str) -> Personal:
        group = super().__new__(cls, user_group(user_id))
        group.via = via
        group.user_key = str(user_id)
        return group


def visitor_group(conversation_id: int) -> str:
    """The customer's side of a conversation (the web chat widget): never private notes."""
    return f"visitor.{conversation_id}"


_muted: contextvars.ContextVar[bool] = contextvars.ContextVar("live_events_muted", default=False)


@contextlib.contextmanager
def muted() -> Iterator[None]:
    """Send no live events inside the block: for bulk imports of history (demo data), which no one watches live."""
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)


def is_muted() -> bool:
    """Inside ``muted()``: history being imported, which nobody is to be told about (notifications ask too)."""
    return _muted.get()


def send_event_on_commit(event: dict[str, Any], *, groups: list[str]) -> None:
    """Queue ``event`` for the given groups, delivered once the current transaction commits."""
    send_events_on_commit([(event, groups)])


def send_events_on_commit(events: list[tuple[dict[str, Any], list[str]]]) -> None:
    """Queue several ``(event, groups)`` at once, delivered once the current transaction commits.

    The events of one transaction go out together, after commit, in one trip to the channel
    layer's event loop, and each group is sent them in one message (:func:`_send_all`): a
    follow-up's ``message.created`` and ``conversation.updated`` were two trips through every
    server's pub/sub connection, two wake-ups of each of 200 sockets' consumers and two writes
    to each socket (bench.live, py-spy on a daphne: most of its time at a few webhooks a second).
    """
    if _muted.get():
        return
    if getattr(settings, "VALIDATE_LIVE_EVENTS", settings.DEBUG):
        for event, _groups in events:
            validate_event(event)
    batch = [(event, groups) for event, groups in events if groups]
    if not batch:
        return
    connection = transaction.get_connection()
    pending = _commit_batch(connection)
    if pending is not None:
        pending.events.extend(batch)
        return
    transaction.on_commit(_CommitBatch(batch), robust=True)


class _CommitBatch:
    """The live events one transaction (or savepoint) queued: an on-commit callback that delivers them."""

    def __init__(self, events: list[tuple[dict[str, Any], list[str]]]) -> None:
        self.events = events

    def __call__(self) -> None:
        _deliver_all(self.events)


def _commit_batch(connection: Any) -> _CommitBatch | None:
    """The batch already queued for this transaction at its current savepoint, to add to; None if none.

    Only one queued under exactly the current savepoints: a savepoint rolled back drops the
    callbacks queued inside it, so events joining a batch from outside it would go with it, and
    events from inside it must not join one that outlives it.
    """
    if not connection.in_atomic_block:
        return None  # autocommit: on_commit runs the callback at once
    current = set(connection.savepoint_ids)
    for sids, callback, _robust in reversed(connection.run_on_commit):
        if isinstance(callback, _CommitBatch):
            return callback if sids == current else None
    return None


def _deliver_all(events: list[tuple[dict[str, Any], list[str]]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    loop = _server_loop()
    if loop is not None:
        # In a web server's sync thread (a view under daphne): hand the events to the server's
        # event loop and return. Waiting for the channel layer there held Django's one sync thread
        # per process (every view of the process queues behind it) for most of a webhook's time
        # (bench.live, py-spy: a third to a half of it).
        try:
            loop.call_soon_threadsafe(_queue_on_loop, layer, events)
            return
        except RuntimeError:  # the loop closed meanwhile: send from here
            pass
    sender = _sender_loop()
    if sender is None:  # inside a running loop of this thread (async code calling a sync service)
        async_to_sync(_send_all)(layer, events)
        return
    # Waited for, so a task's events are out before it reports done, in commit order.
    asyncio.run_coroutine_threadsafe(_send_all(layer, events), sender).result(SENDER_TIMEOUT_SECONDS)


def _server_loop() -> asyncio.AbstractEventLoop | None:
    """The ASGI server's running event loop when called from one of its sync threads; None elsewhere."""
    local = SyncToAsync.threadlocal
    if getattr(local, "main_event_loop_pid", None) != os.getpid():
        return None
    loop: asyncio.AbstractEventLoop | None = getattr(local, "main_event_loop", None)
    if loop is None or loop.is_closed() or not loop.is_running():
        return None
    return loop


# Elsewhere (Celery workers, commands) events are sent from one event loop per process, kept
# running in a thread of its own. ``async_to_sync`` made a new loop per commit, and with it the
# channel layer's Redis connections: a fifth of an inbound worker's CPU was connecting (redis-py
# reads its own package metadata for each new connection) and making loops (bench.live, py-spy).
SENDER_TIMEOUT_SECONDS = 30.0
_sender: tuple[int, asyncio.AbstractEventLoop] | None = None
_sender_lock = threading.Lock()


def _sender_loop() -> asyncio.AbstractEventLoop | None:
    """This process's sending loop (started at first use, again after a fork); None inside a running loop."""
    global _sender
    try:
        asyncio.get_running_loop()
        return None  # waiting on another loop from inside one would block it
    except RuntimeError:
        pass
    # The lock is taken only to start the loop, never per send: a fork while another thread held
    # it would leave the child's copy locked for good.
    loop = _this_process(_sender)
    if loop is None:
        with _sender_lock:
            loop = _this_process(_sender)
            if loop is None:
                loop = asyncio.new_event_loop()
                started = threading.Event()
                loop.call_soon(started.set)
                threading.Thread(target=loop.run_forever, name="live-events", daemon=True).start()
                started.wait()
                _sender = (os.getpid(), loop)
    return loop


def _this_process(sender: tuple[int, asyncio.AbstractEventLoop] | None) -> asyncio.AbstractEventLoop | None:
    """The sending loop if this process started it and it runs (a fork copies the variable, not the thread)."""
    if sender is None or sender[0] != os.getpid() or not sender[1].is_running():
        return None
    return sender[1]


# Per event loop, the batches waiting to be sent, in the order they were committed: one sender
# task per loop sends them one batch after another, so the events of a change (and of successive
# changes) reach the channel layer in order, as they did when each commit waited for its own.
_pending: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Queue[Any]] = weakref.WeakKeyDictionary()
_senders: set[asyncio.Task[None]] = set()


def _queue_on_loop(layer: Any, events: list[tuple[dict[str, Any], list[str]]]) -> None:
    loop = asyncio.get_running_loop()
    queue = _pending.get(loop)
    if queue is None:
        queue = _pending[loop] = asyncio.Queue()
        task = loop.create_task(_send_in_order(queue))
        _senders.add(task)
        task.add_done_callback(_senders.discard)
    queue.put_nowait((layer, events))


async def _send_in_order(queue: asyncio.Queue[Any]) -> None:
    while True:
        layer, events = await queue.get()
        try:
            await _send_all(layer, events)
        except Exception:
            logger.exception("live events were not delivered")
        finally:
            queue.task_done()


async def delivered() -> None:
    """Wait until the events this loop was handed have gone to the channel layer (tests, shutdown)."""
    queue = _pending.get(asyncio.get_running_loop())
    if queue is not None:
        await queue.join()


# Group sends of one batch in flight at once: each holds one of the channel layer's pooled Redis
# connections (100 per process), which 200 at once exhausted.
SEND_CONCURRENCY = 8


def delivery_message(*texts: str, personal: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """What a group is sent: its events of one commit as JSON, in order, each to be one frame.

    Encoded once by the sender; a server forwards the texts to each of its sockets as they are
    (the consumers parse nothing, and the channel layer unpacks a few strings per socket, not
    the events' dictionaries). ``personal``: events for single users (by user id, as a string)
    whose sockets are in the group (:class:`Personal`), forwarded by their own sockets only,
    after the group's.
    """
    message: dict[str, Any] = {"type": DELIVERY_TYPE, "texts": list(texts)}
    if personal:
        message["personal"] = personal
    return message


def _messages_by_group(events: list[tuple[dict[str, Any], list[str]]]) -> dict[str, dict[str, Any]]:
    """One delivery message per group with the group's events in the order they were queued."""
    texts: dict[str, list[str]] = {}
    personal: dict[str, dict[str, list[str]]] = {}
    for event, groups in events:
        encoded = json.dumps(event)
        for group in groups:
            if isinstance(group, Personal):
                texts.setdefault(group.via, [])
                personal.setdefault(group.via, {}).setdefault(group.user_key, []).append(encoded)
            else:
                texts.setdefault(group, []).append(encoded)
    return {group: delivery_message(*group_texts, personal=personal.get(group)) for group, group_texts in texts.items()}


async def _send_all(layer: Any, events: list[tuple[dict[str, Any], list[str]]]) -> None:
    # One message per group, the groups concurrently: nothing orders one group's sockets against
    # another's, and within a group the events keep their order inside the one message.
    slots = asyncio.Semaphore(SEND_CONCURRENCY)

    async def send(group: str, message: dict[str, Any]) -> None:
        async with slots:
            try:
                await layer.group_send(group, message)
            except Exception:
                # The database is the record: a lost push is caught up by the client's resync.
                logger.exception("a live event batch (%d) to %s was not delivered", len(message["texts"]), group)

    messages = _messages_by_group(events)
    send_many = getattr(layer, "group_send_many", None)
    if send_many is not None and len(messages) > 1:
        # Many groups at once (a notification to each of an inbox's agents): one round trip (core/pubsub_layer.py).
        try:
            await send_many(messages)
        except Exception:
            logger.exception("a live event batch to %d groups was not delivered", len(messages))
        return
    if len(messages) == 1:
        await send(*next(iter(messages.items())))
    else:
        await asyncio.gather(*(send(group, message) for group, message in messages.items()))


def issue_ticket(user_id: int) -> str:
    """A short-lived signed ticket for the agents' websocket (``/ws/agent/?ticket=``)."""
    return signing.dumps({"user_id": user_id}, salt=TICKET_SALT)


def user_for_ticket(ticket: str) -> Any:
    """The active user a valid, unexpired ticket was issued to, or None."""
    from django.contrib.auth import get_user_model

    try:
        data = signing.loads(ticket, salt=TICKET_SALT, max_age=TICKET_MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    user_id = data.get("user_id") if isinstance(data, dict) else None
    if not isinstance(user_id, int):
        return None
    return get_user_model().objects.filter(pk=user_id, is_active=True).first()
