from __future__ import annotations

import secrets

from django.contrib.admin.views.decorators import staff_member_required
from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from core.models import WorkerHeartbeat
from core.tasks import record_heartbeat


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers: the database answers, and when the worker last beat."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    worker = WorkerHeartbeat.objects.filter(name="worker").first()
    return JsonResponse(
        {"status": "ok", "database": "ok", "worker_last_seen": worker.last_seen_at.isoformat() if worker else None}
    )


@staff_member_required
@require_POST
def worker_ping(request: HttpRequest) -> JsonResponse:
    """Enqueue a heartbeat under a fresh name, so a supervisor can see a task really run."""
    name = f"ping-{secrets.token_hex(6)}"
    transaction.on_commit(lambda: record_heartbeat.delay(name))
    return JsonResponse({"queued": name}, status=202)


@staff_member_required
@require_GET
def worker_ping_status(request: HttpRequest, name: str) -> JsonResponse:
    beat = WorkerHeartbeat.objects.filter(name=name).first()
    return JsonResponse({"name": name, "done": beat is not None})
