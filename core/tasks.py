from __future__ import annotations

import socket

from celery import shared_task
from django.db.models import F
from django.utils import timezone

from conversations.realtime import send_event_on_commit, user_group
from core.models import WorkerHeartbeat

# The live event that answers a supervisor's worker ping (see conversations/event_schema.py).
WORKER_PONG = "worker.pong"


def _beat(name: str) -> None:
    now = timezone.now()
    hostname = socket.gethostname()
    updated = WorkerHeartbeat.objects.filter(name=name).update(
        last_seen_at=now, beats=F("beats") + 1, hostname=hostname
    )
    if not updated:
        WorkerHeartbeat.objects.get_or_create(
            name=name, defaults={"last_seen_at": now, "beats": 1, "hostname": hostname}
        )


@shared_task(name="core.tasks.record_heartbeat", ignore_result=True)
def record_heartbeat(name: str = "worker") -> None:
    """Run by beat on a timer: proof that beat and a worker are alive."""
    _beat(name)


@shared_task(name="core.tasks.worker_ping", ignore_result=True)
def worker_ping(name: str, user_id: int) -> None:
    """A supervisor's ping: write a row she can poll for, and tell her socket live.

    The live answer is sent from the worker, so it proves the whole path from a worker to
    the websockets (across threads in embedded mode, across processes through Redis).
    """
    _beat(name)  # committed on its own: the row is the record even if the live event is lost
    send_event_on_commit(
        {"type": WORKER_PONG, "name": name, "hostname": socket.gethostname()},
        groups=[user_group(user_id)],
    )


@shared_task(name="core.tasks.sweep_outbox", ignore_result=True)
def sweep_outbox() -> int:
    """Beat: publish again the outbox entries the broker lost or whose worker died (core/outbox.py)."""
    from core import outbox

    return outbox.sweep()
