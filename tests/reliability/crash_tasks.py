"""A task that kills the worker process running it: loaded only by the fault tests' workers (--include)."""

from __future__ import annotations

import os
import signal

from celery import shared_task


@shared_task(name="tests.reliability.crash_tasks.kill_own_worker", acks_late=True, ignore_result=True)
def kill_own_worker() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@shared_task(name="tests.reliability.crash_tasks.count_then_kill_own_worker", acks_late=True, ignore_result=True)
def count_then_kill_own_worker(name: str) -> None:
    """Record the run (a heartbeat row named ``name``, committed), then kill the worker running it."""
    from core.tasks import _beat

    _beat(name)
    os.kill(os.getpid(), signal.SIGKILL)
