"""Batched outbox tasks: one drain for many entries, claimed in batches, the rest left to the sweep.

Celery runs eagerly here (tests/conftest.py): a kick runs its drain at once unless the test stops it.
The real broker and workers drain customers' messages in tests/reliability/test_processes.py.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.db import OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from core import outbox
from core.models import OutboxEntry, OutboxState, WorkerHeartbeat

pytestmark = pytest.mark.django_db

HEARTBEAT = "core.tasks.record_heartbeat"


def beats(name: str) -> int:
    row = WorkerHeartbeat.objects.filter(name=name).first()
    return row.beats if row else 0


@pytest.fixture
def kicks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Drains published, not run (as if every worker were busy)."""
    published: list[tuple[Any, ...]] = []
    monkeypatch.setattr(outbox.drain_task, "apply_async", lambda *a, **kw: published.append((a, kw)))
    cache.delete(outbox._kick_key(HEARTBEAT))
    return published


def test_many_entries_kick_one_drain_which_runs_them_all_in_order(committed: Any, kicks: list[Any]) -> None:
    for index in range(5):
        with committed():
            outbox.enqueue(HEARTBEAT, f"drained-{index}", batched=True)
    assert len(kicks) == 1  # the first commit kicked; the others found a drain due
    assert kicks[0][1]["args"] == [HEARTBEAT]
    assert all(beats(f"drained-{index}") == 0 for index in range(5))

    assert outbox.drain(HEARTBEAT) == 5
    assert all(beats(f"drained-{index}") == 1 for index in range(5))
    states = list(OutboxEntry.objects.order_by("pk").values_list("state", "attempts"))
    assert states == [(OutboxState.DONE, 1)] * 5
    # The drain forgot its kick as it started: the next entry kicks a new one.
    with committed():
        outbox.enqueue(HEARTBEAT, "after", batched=True)
    assert len(kicks) == 2


def test_a_drain_runs_what_was_committed_once_it_started_and_stops_at_its_limit(
    committed: Any, kicks: list[Any]
) -> None:
    for index in range(7):
        with committed():
            outbox.enqueue(HEARTBEAT, f"limited-{index}", batched=True)
    assert outbox.drain(HEARTBEAT, limit=4) == 4
    # It handed over to a fresh drain for the rest, behind whatever else waits in the queue.
    assert len(kicks) == 2
    assert OutboxEntry.objects.filter(state=OutboxState.PENDING).count() == 3
    assert outbox.drain(HEARTBEAT) == 3
    assert OutboxEntry.objects.filter(state=OutboxState.DONE).count() == 7


def test_a_drain_claims_with_its_arguments_and_stops_at_a_short_batch(
    committed: Any, kicks: list[Any], django_assert_num_queries: Any
) -> None:
    for index in range(3):
        with committed():
            outbox.enqueue(HEARTBEAT, f"counted-{index}", batched=True)
    with CaptureQueriesContext(connection) as queries:
        assert outbox.drain(HEARTBEAT) == 3
    on_entries = [q["sql"] for q in queries.captured_queries if "core_outboxentry" in q["sql"]]
    # One claim that returns the arguments (no read after it, no claim that finds nothing), a finish each.
    assert len(on_entries) == 4, on_entries
    assert on_entries[0].startswith("WITH")
    assert all(sql.startswith("UPDATE") for sql in on_entries[1:])
    assert all(beats(f"counted-{index}") == 1 for index in range(3))


def test_an_entry_committed_while_a_drain_runs_kicks_a_drain_of_its_own(
    committed: Any, kicks: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    with committed():
        outbox.enqueue(HEARTBEAT, "first", batched=True)
    assert len(kicks) == 1
    run_claimed = outbox._run_claimed

    def run_and_receive_another(task: Any, entry_id: int, args: list[Any]) -> None:
        run_claimed(task, entry_id, args)
        if args == ["first"]:
            with committed():
                outbox.enqueue(HEARTBEAT, "later", batched=True)

    monkeypatch.setattr(outbox, "_run_claimed", run_and_receive_another)
    assert outbox.drain(HEARTBEAT) == 1  # its batch came back short: it stops without looking again
    assert len(kicks) == 2  # but the later entry's commit kicked a fresh drain, which runs it
    assert outbox.drain(HEARTBEAT) == 1
    assert (beats("first"), beats("later")) == (1, 1)


def test_a_drain_takes_only_fresh_entries_of_its_own_task(committed: Any, kicks: list[Any]) -> None:
    with committed():
        fresh = outbox.enqueue(HEARTBEAT, "fresh", batched=True)
        retried = outbox.enqueue(HEARTBEAT, "retried", batched=True)
        other = outbox.enqueue("conversations.tasks.send_outbound_message", 10**9)
    assert fresh and retried and other
    OutboxEntry.objects.filter(pk=retried.pk).update(attempts=1)  # a run that will be retried: the sweep's
    assert outbox.drain(HEARTBEAT) == 1
    states = dict(OutboxEntry.objects.values_list("pk", "state"))
    assert states[fresh.pk] == OutboxState.DONE
    assert states[retried.pk] == OutboxState.PENDING
    assert states[other.pk] in (OutboxState.DONE, OutboxState.PENDING)  # its own message, eager here


def test_an_eager_kick_runs_the_drain_at_commit(committed: Any) -> None:
    cache.delete(outbox._kick_key(HEARTBEAT))
    with committed():
        outbox.enqueue(HEARTBEAT, "eager", batched=True)
        assert beats("eager") == 0  # promised, not run, until the commit
    assert beats("eager") == 1
    assert OutboxEntry.objects.get().state == OutboxState.DONE


def test_a_drain_delivered_again_after_its_worker_died_runs_what_is_fresh_and_leaves_the_rest_to_the_sweep(
    committed: Any, kicks: list[Any], settings: Any
) -> None:
    from core import counters

    settings.OUTBOX_MAX_INTERRUPTIONS = 3
    with committed():
        poison = outbox.enqueue(HEARTBEAT, "poison", batched=True)
        fresh = outbox.enqueue(HEARTBEAT, "fresh", batched=True)
    assert poison and fresh
    assert outbox.claim_batch(HEARTBEAT, size=1) == [(poison.pk, ["poison"])]  # the run that killed its worker
    key = "task-unfinished-runs:drain-1"
    counters.forget(key)
    for _ in range(3):  # had drains been counted, three deaths would drop the next delivery
        counters.hit(key, 60)
    outbox.drain_task.apply(args=[HEARTBEAT], task_id="drain-1")
    assert (beats("fresh"), beats("poison")) == (1, 0)  # not dropped, and the dead run's entry not run again
    poison.refresh_from_db()
    assert (poison.state, poison.attempts) == (OutboxState.RUNNING, 1)  # the sweep's, once its lease is over
    assert counters.get(key) == 3  # a drain neither counts nor clears a count


def test_a_failed_run_is_recorded_and_a_retryable_one_goes_to_the_sweep(
    committed: Any, kicks: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from core import tasks

    calls: list[str] = []

    def flaky(name: str = "worker") -> None:
        calls.append(name)
        if name == "broken":
            raise ValueError("this run is wrong")
        if name == "database-away":
            raise OperationalError("the server closed the connection")
        tasks._beat(name)

    task = tasks.record_heartbeat
    monkeypatch.setattr(task, "run", flaky)
    monkeypatch.setattr(task, "autoretry_for", (OperationalError,), raising=False)
    with committed():
        broken = outbox.enqueue(HEARTBEAT, "broken", batched=True)
        away = outbox.enqueue(HEARTBEAT, "database-away", batched=True)
        fine = outbox.enqueue(HEARTBEAT, "fine", batched=True)
    assert broken and away and fine
    assert outbox.drain(HEARTBEAT) == 3
    assert calls == ["broken", "database-away", "fine"]  # one run's failure does not stop the drain
    broken.refresh_from_db()
    away.refresh_from_db()
    fine.refresh_from_db()
    assert broken.state == OutboxState.FAILED and broken.last_error == "ValueError: this run is wrong"
    assert (away.state, away.attempts) == (OutboxState.PENDING, 1)
    # Due after the task's backoff, not a lease later: no Celery retry message is coming for it.
    assert away.available_at <= timezone.now() + timedelta(seconds=5)
    assert fine.state == OutboxState.DONE
    # The sweep publishes the retry once it is due, as a message of its own, and the run claims it.
    monkeypatch.undo()
    OutboxEntry.objects.filter(pk=away.pk).update(available_at=broken.created_at)
    assert outbox.sweep() == 1
    away.refresh_from_db()
    assert (away.state, away.attempts) == (OutboxState.DONE, 2)
    assert beats("database-away") == 1


def test_a_kick_the_broker_refuses_leaves_the_entry_to_the_sweep(
    committed: Any, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    cache.delete(outbox._kick_key(HEARTBEAT))

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(outbox.drain_task, "apply_async", refuse)
    with committed():
        entry = outbox.enqueue(HEARTBEAT, "refused", batched=True)
    assert entry is not None
    assert "the sweep will publish its entries" in caplog.text
    # The kick is not held: the next commit tries again.
    assert cache.add(outbox._kick_key(HEARTBEAT), 1, 5)
    monkeypatch.undo()
    OutboxEntry.objects.filter(pk=entry.pk).update(available_at=entry.created_at)
    assert outbox.sweep() == 1
    assert beats("refused") == 1


def test_a_batched_task_cannot_choose_its_lease() -> None:
    with pytest.raises(ValueError, match="default lease"):
        outbox.enqueue(HEARTBEAT, "x", batched=True, lease_seconds=5)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_drains_skip_each_others_rows(kicks: list[Any]) -> None:
    for index in range(6):
        outbox.enqueue(HEARTBEAT, f"shared-{index}", batched=True)
    held = threading.Event()
    release = threading.Event()
    taken_by_other: list[tuple[int, list[Any]]] = []

    def other_drain() -> None:
        try:
            with transaction.atomic():
                taken_by_other.extend(outbox.claim_batch(HEARTBEAT, size=3))
                held.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_drain)
    thread.start()
    try:
        assert held.wait(10)
        mine = outbox.claim_batch(HEARTBEAT, size=6)  # does not wait for the other's uncommitted rows
    finally:
        release.set()
        thread.join(10)
    assert len(taken_by_other) == 3 and len(mine) == 3
    assert not {pk for pk, _ in mine} & {pk for pk, _ in taken_by_other}
    assert OutboxEntry.objects.filter(state=OutboxState.RUNNING).count() == 6
