import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inbox_project.settings")

# Every task runs through the outbox's task class: runs published from an outbox row are claimed and recorded.
app = Celery("inbox_project", task_cls="core.outbox:OutboxTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
