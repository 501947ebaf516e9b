from __future__ import annotations

import socket

from celery import shared_task
from django.db.models import F
from django.utils import timezone

from core.models import WorkerHeartbeat


@shared_task(name="core.tasks.record_heartbeat", ignore_result=True)
def record_heartbeat(name: str = "worker") -> None:
    now = timezone.now()
    updated = WorkerHeartbeat.objects.filter(name=name).update(
        last_seen_at=now, beats=F("beats") + 1, hostname=socket.gethostname()
    )
    if not updated:
        WorkerHeartbeat.objects.get_or_create(
            name=name, defaults={"last_seen_at": now, "beats": 1, "hostname": socket.gethostname()}
        )
