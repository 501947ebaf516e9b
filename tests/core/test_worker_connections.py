"""A Celery worker keeps its database connection from one task to the next, unless it broke or aged out.

Celery's Django fixup closed every connection after each task (and, in a prefork worker with
the pool on, the whole pool), so each task started a PostgreSQL backend. These tests run the
fixup's own task hooks and ours (``inbox_project.celery``) as a worker runs them around a task.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection

from inbox_project import celery as celery_module
from inbox_project.celery import app

pytestmark = pytest.mark.django_db(transaction=True)


class _Task:
    """What the hooks are given: a task whose request ran in a worker (not eagerly)."""

    class request:
        is_eager = False


def _run_task_hooks(fixup: DjangoWorkerFixup) -> None:
    for hook in (fixup.on_task_prerun, celery_module.recycle_database_connections):
        hook(sender=_Task)
    connection.ensure_connection()  # the task's query
    for hook in (fixup.on_task_postrun, celery_module.recycle_database_connections):
        hook(sender=_Task)


def _connection_identity() -> Any:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return id(connection.connection)


@pytest.fixture(autouse=True)
def persistent_connections() -> Any:
    """Connections kept for a minute (the setting without the pool), the test's own connection fresh."""
    saved = connection.settings_dict["CONN_MAX_AGE"]
    connection.close()
    connection.settings_dict["CONN_MAX_AGE"] = 60
    yield
    connection.settings_dict["CONN_MAX_AGE"] = saved
    connection.close()


def test_a_healthy_connection_serves_the_next_task() -> None:
    fixup = DjangoWorkerFixup(app)
    _run_task_hooks(fixup)
    first = _connection_identity()
    _run_task_hooks(fixup)
    assert connection.connection is not None and _connection_identity() == first


def test_without_the_setting_celery_would_close_it_after_every_task() -> None:
    """The test above fails without ``CELERY_DB_REUSE_MAX``: this is what the fixup does then."""
    fixup = DjangoWorkerFixup(app)
    fixup.db_reuse_max = None
    connection.ensure_connection()
    fixup.on_task_postrun(sender=_Task)
    assert connection.connection is None


def test_a_connection_past_its_age_or_broken_is_closed_after_the_task() -> None:
    fixup = DjangoWorkerFixup(app)
    connection.ensure_connection()
    connection.close_at = time.monotonic() - 1  # outlived CONN_MAX_AGE
    fixup.on_task_postrun(sender=_Task)
    celery_module.recycle_database_connections(sender=_Task)
    assert connection.connection is None

    connection.ensure_connection()
    connection.close_at = None
    connection.errors_occurred = True
    connection.connection.close()  # the server went away under it
    celery_module.recycle_database_connections(sender=_Task)
    assert connection.connection is None


def test_an_eager_task_leaves_the_callers_connection_alone() -> None:
    class Eager:
        class request:
            is_eager = True

    connection.ensure_connection()
    connection.close_at = time.monotonic() - 1  # would be closed by the recycling
    celery_module.recycle_database_connections(sender=Eager)
    assert connection.connection is not None
