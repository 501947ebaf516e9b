"""The task outbox in one process: promised with the commit, claimed per run, swept, dead-lettered.

Celery runs eagerly here (tests/conftest.py), so "published" means "run now"; the real broker,
killed workers and a stopped Redis are in test_processes.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from conversations import services
from conversations.models import DeliveryStatus, Message
from core import outbox
from core.models import OutboxEntry, OutboxState, WorkerHeartbeat
from tests import factories as f

pytestmark = pytest.mark.django_db

HEARTBEAT = "core.tasks.record_heartbeat"


def beats(name: str) -> int:
    row = WorkerHeartbeat.objects.filter(name=name).first()
    return row.beats if row else 0


def test_a_rolled_back_transaction_enqueues_nothing(committed: Any) -> None:
    with committed(), pytest.raises(RuntimeError), transaction.atomic():
        outbox.enqueue(HEARTBEAT, "rolled-back")
        raise RuntimeError("the change failed")
    assert not OutboxEntry.objects.exists()
    assert beats("rolled-back") == 0


def test_a_committed_change_is_visible_to_its_task(conversation: Any, agent: Any, committed: Any) -> None:
    """The send task runs after commit and finds the reply the same transaction wrote (web chat: delivered)."""
    with committed():
        reply = services.message_send_reply(conversation=conversation, author=agent, body="On its way")
        # Inside the transaction: promised, not run.
        assert OutboxEntry.objects.get(dedup_key=f"send:{reply.pk}").state == OutboxState.PENDING
        assert Message.objects.get(pk=reply.pk).delivery_status == DeliveryStatus.QUEUED
    reply.refresh_from_db()
    assert reply.delivery_status in (DeliveryStatus.SENT, DeliveryStatus.DELIVERED)
    entry = OutboxEntry.objects.get(dedup_key=f"send:{reply.pk}")
    assert (entry.state, entry.attempts) == (OutboxState.DONE, 1)


def test_the_same_key_is_promised_once(committed: Any) -> None:
    with committed():
        first = outbox.enqueue(HEARTBEAT, "keyed", key="beat:keyed")
        second = outbox.enqueue(HEARTBEAT, "keyed", key="beat:keyed")
    assert first is not None and second is None
    assert beats("keyed") == 1


def test_a_duplicate_delivery_of_a_finished_entry_does_nothing(committed: Any) -> None:
    with committed():
        entry = outbox.enqueue(HEARTBEAT, "dup")
    assert entry is not None and beats("dup") == 1
    assert outbox.publish(entry.pk, HEARTBEAT, ["dup"])  # the broker delivers it again
    assert beats("dup") == 1
    entry.refresh_from_db()
    assert (entry.state, entry.attempts) == (OutboxState.DONE, 1)


def test_a_run_within_its_lease_is_not_run_twice() -> None:
    entry = f.OutboxEntryFactory(args=["leased"])
    assert outbox.claim(entry.pk) == 1
    assert outbox.claim(entry.pk) is None  # a second delivery while the first run is alive
    assert outbox.publish(entry.pk, HEARTBEAT, ["leased"])
    assert beats("leased") == 0


def test_the_sweep_publishes_what_the_broker_lost() -> None:
    # Written and committed, but the publish never happened (Redis down, the process stopped).
    entry = f.OutboxEntryFactory(args=["lost"], available_at=timezone.now() - timedelta(seconds=1))
    not_due = f.OutboxEntryFactory(args=["later"], available_at=timezone.now() + timedelta(minutes=1))
    assert outbox.sweep() == 1
    entry.refresh_from_db()
    assert entry.state == OutboxState.DONE and beats("lost") == 1
    assert beats("later") == 0 and OutboxEntry.objects.get(pk=not_due.pk).state == OutboxState.PENDING


def test_the_sweep_runs_again_an_entry_whose_worker_died(settings: Any) -> None:
    entry = f.OutboxEntryFactory(args=["died"])
    assert outbox.claim(entry.pk) == 1  # a worker took it ... and was killed
    OutboxEntry.objects.filter(pk=entry.pk).update(available_at=timezone.now() - timedelta(seconds=1))
    assert outbox.sweep() == 1
    entry.refresh_from_db()
    assert (entry.state, entry.attempts, entry.interrupted) == (OutboxState.DONE, 2, 1)
    assert beats("died") == 1


def test_a_task_that_keeps_killing_its_worker_is_dead_lettered(settings: Any, caplog: Any) -> None:
    settings.OUTBOX_MAX_INTERRUPTIONS = 3
    entry = f.OutboxEntryFactory(args=["poison"])
    for _ in range(3):  # three runs, each killed before it could finish
        assert outbox.claim(entry.pk) is not None
        OutboxEntry.objects.filter(pk=entry.pk).update(available_at=timezone.now() - timedelta(seconds=1))
    assert outbox.claim(entry.pk) is None
    entry.refresh_from_db()
    assert (entry.state, entry.attempts, entry.interrupted) == (OutboxState.DEAD, 3, 3)
    assert "dead-lettered" in entry.last_error
    assert any("dead-lettered" in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)
    # Never run again, even when delivered again or swept.
    assert outbox.sweep() == 0
    assert outbox.publish(entry.pk, HEARTBEAT, ["poison"])
    assert beats("poison") == 0


def test_a_task_that_raises_is_recorded_failed() -> None:
    entry = f.OutboxEntryFactory(task_name="conversations.tasks.send_outbound_message", args=["not-an-id"])
    with pytest.raises(ValueError):  # eager runs propagate; a worker logs it
        outbox.publish(entry.pk, entry.task_name, entry.args)
    entry.refresh_from_db()
    assert entry.state == OutboxState.FAILED
    assert entry.last_error.startswith("ValueError:")


def test_a_task_for_a_row_that_is_gone_finishes_quietly() -> None:
    entry = f.OutboxEntryFactory(task_name="conversations.tasks.send_outbound_message", args=[10**9])
    assert outbox.publish(entry.pk, entry.task_name, entry.args)
    entry.refresh_from_db()
    assert entry.state == OutboxState.DONE


def test_an_interrupted_send_is_not_sent_again_but_marked_failed(conversation: Any, agent: Any) -> None:
    """The worker died after claiming the send: the customer may have it, so it is never sent twice."""
    with transaction.atomic():
        reply = services.message_send_reply(conversation=conversation, author=agent, body="Once only")
    entry = OutboxEntry.objects.get(dedup_key=f"send:{reply.pk}")
    Message.objects.filter(pk=reply.pk).update(sent_at=timezone.now())  # claimed by the run that died
    assert outbox.claim(entry.pk) == 1
    OutboxEntry.objects.filter(pk=entry.pk).update(available_at=timezone.now() - timedelta(seconds=1))
    assert outbox.sweep() == 1
    reply.refresh_from_db()
    assert reply.delivery_status == DeliveryStatus.FAILED
    assert "may or may not have reached the customer" in reply.delivery_error


def test_a_task_without_an_entry_is_dropped_after_three_runs_that_never_finished(settings: Any, caplog: Any) -> None:
    from core import counters
    from core.tasks import record_heartbeat

    settings.OUTBOX_MAX_INTERRUPTIONS = 3
    key = "task-unfinished-runs:poison-1"
    counters.forget(key)
    for _ in range(3):  # three deliveries whose worker died: each counted, none cleared
        counters.hit(key, 60)
    with caplog.at_level("ERROR", logger="core.outbox"):
        record_heartbeat.apply(args=["poison"], task_id="poison-1")
    assert not WorkerHeartbeat.objects.filter(name="poison").exists()  # not run
    assert "dropped: its last 3 runs never finished" in caplog.text


def test_a_task_without_an_entry_that_finishes_or_retries_is_never_counted(settings: Any) -> None:
    from core import counters
    from core.tasks import record_heartbeat

    settings.OUTBOX_MAX_INTERRUPTIONS = 3
    counters.forget("task-unfinished-runs:steady-1")
    counters.hit("task-unfinished-runs:steady-1", 60)  # one run that died before
    for _ in range(5):  # same id, as Celery's retries keep it
        record_heartbeat.apply(args=["steady"], task_id="steady-1")
    assert WorkerHeartbeat.objects.get(name="steady").beats == 5
    assert counters.get("task-unfinished-runs:steady-1") is None
