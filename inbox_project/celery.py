import os
from typing import Any

from celery import Celery
from celery.signals import beat_init, task_postrun, task_prerun, worker_process_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inbox_project.settings")

# Every task runs through the outbox's task class: runs published from an outbox row are claimed and recorded.
app = Celery("inbox_project", task_cls="core.outbox:OutboxTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def warm_assistant_classifier(**_: object) -> None:
    """Learn the local responder's classifier as a worker process starts (1-2 s), not on its first message."""
    from routing.assistant import classifier

    classifier.models()


@worker_process_init.connect  # each prefork child, after the classifier above (receivers run in order)
@worker_ready.connect  # the main process (the whole worker with the threads pool), once it is ready
@beat_init.connect
def settle_garbage_collector(**_: object) -> None:
    """Keep what the process loaded at start out of the garbage collector's full passes (core/collector.py)."""
    from core.collector import settle

    settle()


@task_prerun.connect
@task_postrun.connect
def recycle_database_connections(sender: Any = None, **_: object) -> None:
    """Around each task, as Django does around a request: drop connections that broke or outlived their age.

    A healthy connection is kept for the next task (in the pool when it is on); Celery's own
    handling, which closed them all every time, is switched off (``CELERY_DB_REUSE_MAX``).
    """
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return  # run inside the caller's code: its connection is the caller's
    from django.db import close_old_connections

    close_old_connections()
