"""A task that kills the worker process running it: loaded only by the fault tests' workers (--include)."""

from __future__ import annotations

import os
import signal

from celery import shared_task


@shared_task(name="tests.reliability.crash_tasks.kill_own_worker", acks_late=True, ignore_result=True)
def kill_own_worker() -> None:
    os.kill(os.getpid(), signal.SIGKILL)
