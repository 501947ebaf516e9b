import os

from celery import Celery
from celery.signals import worker_process_init

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
