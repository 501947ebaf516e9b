from __future__ import annotations

import secrets

from django.contrib.admin.views.decorators import staff_member_required
from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from core.models import WorkerHeartbeat
from core.tasks import worker_ping as worker_ping_task


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
    """Enqueue a ping under a fresh name, so a supervisor can see a task really run.

    The worker writes a row under that name (poll ``worker-ping-status``) and sends a
    ``worker.pong`` live event to the supervisor's own websocket group.
    """
    name = f"ping-{secrets.token_hex(6)}"
    user_id = request.user.pk
    transaction.on_commit(lambda: worker_ping_task.delay(name, user_id))
    return JsonResponse({"queued": name}, status=202)


@staff_member_required
@require_GET
def worker_ping_status(request: HttpRequest, name: str) -> JsonResponse:
    beat = WorkerHeartbeat.objects.filter(name=name).first()
    return JsonResponse({"name": name, "done": beat is not None})
