"""The task outbox: follow-up work that survives a lost broker, a lost in-memory queue and killed workers.

A service that changes state and wants work done afterwards (route the new conversation, let the
assistant answer, send the reply) calls :func:`enqueue` inside its transaction. That writes an
:class:`~core.models.OutboxEntry` row with the task's name and arguments, so the work is promised
exactly when the change commits: a rolled-back transaction leaves no row and enqueues nothing.

1. After commit, a hook publishes the task with the entry's id in a message header. If the broker
   is down (Redis stopped) the hook logs and returns: the request that made the change still
   succeeds, and the row waits.
2. Every worker run of a task carrying that header goes through :class:`OutboxTask`: it claims
   the row with a conditional update (``pending → running``, one more attempt, a lease), runs the
   task, and records ``done``, ``failed`` or, when Celery retries it, ``pending`` again. A second
   delivery of the same message (a duplicate, or Celery's own redelivery) finds the row running
   or done and does nothing.
3. :func:`sweep` (beat) publishes again what is still pending after a grace period and what is
   running past its lease: the broker lost the message (Redis restarted, the embedded in-memory
   queue went with its process) or the worker running it was killed.
4. A run that never finished (its worker was killed) counts as interrupted. A task that keeps
   killing its worker is dead-lettered (``dead``) after ``OUTBOX_MAX_INTERRUPTIONS`` such runs,
   logged as an error and never run again, so it cannot take the workers down forever.
5. A task run without an outbox entry (beat's periodic tasks, webhook deliveries, notification
   mails, mailbox polls) is redelivered by Celery when its worker dies (``acks_late`` and
   ``reject_on_worker_lost``). :class:`OutboxTask` counts such a task's unfinished runs by task id in
   the shared cache (:mod:`core.counters`); once ``OUTBOX_MAX_INTERRUPTIONS`` runs never finished,
   the next delivery is dropped with an error in the log instead of killing another worker. A run
   that returns, raises or retries clears its count, so retries are never counted.

6. A task enqueued with ``batched=True`` (customers' messages, hundreds a second) is not published
   once per entry: the commit hook *kicks* a drain (:func:`kick`, at most one waiting at a time, kept
   in the shared cache) and :func:`drain`, run by whichever worker takes it, claims the task's fresh
   entries in batches and runs them one after the other in that worker. A Celery message, its
   acknowledgement and the two-query claim per entry were more of the inbound worker's CPU than
   storing the message (bench.live, py-spy). An entry the drain could not finish, or whose kick was
   lost, goes the individual way above: the sweep publishes it after its grace period.

Delivery is at least once, so every task run through the outbox is idempotent: the outbound send
claims its message before calling the channel, the assistant's answer is keyed on the customer
message, routing only assigns the unassigned.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import socket
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from celery import Task, current_app, shared_task
from celery.exceptions import Retry
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from core import counters
from core.models import OutboxEntry, OutboxState

logger = logging.getLogger(__name__)

HEADER = "outbox_entry"
OPEN_STATES = (OutboxState.PENDING, OutboxState.RUNNING)
SWEEP_LIMIT = 500
# Finished rows are kept this long for inspection, then the sweep deletes them.
KEEP_FINISHED = timedelta(days=7)


def _lease(seconds: int | None) -> int:
    return int(seconds if seconds is not None else settings.OUTBOX_LEASE_SECONDS)


def enqueue(
    task_name: str,
    *args: Any,
    key: str | None = None,
    lease_seconds: int | None = None,
    batched: bool = False,
) -> OutboxEntry | None:
    """Promise ``task_name(*args)`` for when the current transaction commits (at once outside one).

    ``key`` makes the promise unique: a second enqueue with the same key, now or later, is
    ignored (returns None). ``lease_seconds`` is how long a run may take before the sweep
    thinks its worker died; longer than the task's slowest honest run. ``batched``: run by a
    drain of the task's entries rather than a message of its own (see the module docstring).
    """
    if batched and lease_seconds is not None:
        raise ValueError("a batched task's entries all run under the default lease (OUTBOX_LEASE_SECONDS)")
    now = timezone.now()
    entry = OutboxEntry(
        task_name=task_name,
        args=list(args),
        dedup_key=key,
        lease_seconds=_lease(lease_seconds),
        # The commit hook publishes it at once; the sweep only steps in if that did not happen.
        available_at=now + timedelta(seconds=settings.OUTBOX_PUBLISH_GRACE_SECONDS),
        created_at=now,
    )
    if key is not None:
        if OutboxEntry.objects.filter(dedup_key=key).exists():
            return None
        try:
            with transaction.atomic():
                entry.save(force_insert=True)
        except IntegrityError:  # the same key, written by a concurrent transaction
            return None
    else:
        entry.save(force_insert=True)
    entry_id = entry.pk
    if batched:
        transaction.on_commit(lambda: kick(task_name))
    else:
        transaction.on_commit(lambda: publish(entry_id, task_name, entry.args))
    return entry


def _task(task_name: str) -> Task | None:
    task = current_app.tasks.get(task_name)
    if task is None:  # its module not imported in this process yet (task names are module paths)
        with contextlib.suppress(ImportError):
            importlib.import_module(task_name.rpartition(".")[0])
        task = current_app.tasks.get(task_name)
    return task


def publish(entry_id: int, task_name: str, args: Sequence[Any]) -> bool:
    """Hand an entry to the broker; False (logged) if the broker cannot take it now."""
    app = current_app
    task = _task(task_name)
    try:
        if task is not None:
            task.apply_async(args=list(args), headers={HEADER: entry_id}, retry=False)
        else:
            app.send_task(task_name, args=list(args), headers={HEADER: entry_id}, retry=False)
    except (BrokerError, OSError) as exc:
        logger.warning("outbox entry %s (%s) not published, the sweep will retry: %s", entry_id, task_name, exc)
        return False
    return True


# --- Batched tasks: drains -----------------------------------------------------------------------------

DRAIN_TASK = "core.outbox.drain_task"
# Entries claimed at once by a drain, and run before it hands over to a fresh drain (other work in the queue).
DRAIN_BATCH = 16
DRAIN_RUN_LIMIT = 256
# A kick whose drain never started (the message was lost) stops holding the next ones back after this.
KICK_TTL_SECONDS = 10


def _kick_key(task_name: str) -> str:
    return f"outbox-drain-kicked:{task_name}"


def _forget_kick(task_name: str) -> None:
    with contextlib.suppress(*counters.UNREACHABLE):
        cache.delete(_kick_key(task_name))


def kick(task_name: str) -> bool:
    """Make sure a drain of ``task_name``'s entries will start; False (logged) if the broker cannot take it.

    At most one kick waits at a time: a drain forgets the kick as it starts, so an entry committed
    before that is in what it drains, and an entry committed after kicks again.
    """
    try:
        if not cache.add(_kick_key(task_name), 1, KICK_TTL_SECONDS):
            return True  # a drain is due to start and will find the entry
    except counters.UNREACHABLE:
        pass  # no shared cache (Redis down), so no broker either, most likely: the publish below says
    options = current_app.amqp.router.route({}, task_name, (), {})
    try:
        drain_task.apply_async(args=[task_name], retry=False, **options)
    except (BrokerError, OSError) as exc:
        _forget_kick(task_name)
        logger.warning("outbox drain of %s not published, the sweep will publish its entries: %s", task_name, exc)
        return False
    return True


def claim_batch(task_name: str, *, size: int = DRAIN_BATCH, now: datetime | None = None) -> list[tuple[int, list[Any]]]:
    """Start runs of up to ``size`` fresh entries of the task, oldest first: (entry id, arguments) each.

    Fresh: pending and never run, so each run is the entry's first attempt. One statement, its own
    transaction, returning what the runs need; concurrent drains skip each other's rows. An entry
    that has run before (a retry, a run whose worker died) is the sweep's to publish.
    """
    now = now or timezone.now()
    table = OutboxEntry._meta.db_table
    # SQLite has one writer at a time and no row locks: the outer conditions keep a row from being taken twice.
    skip_locked = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    # The ids are picked once (a materialized CTE): PostgreSQL may evaluate an IN (... LIMIT ... SKIP LOCKED)
    # subquery more than once in one UPDATE and so take more than ``size`` rows.
    sql = (
        f'WITH "picked" AS MATERIALIZED (SELECT "id" FROM "{table}" WHERE "task_name" = %s AND "state" = %s '  # noqa: S608
        f'AND "attempts" = 0 ORDER BY "id" LIMIT %s{skip_locked}) '
        f'UPDATE "{table}" SET "state" = %s, "attempts" = 1, "available_at" = %s '
        f'WHERE "id" IN (SELECT "id" FROM "picked") AND "state" = %s AND "attempts" = 0 RETURNING "id", "args"'
    )
    leased_until = now + timedelta(seconds=_lease(None))
    params: list[Any] = [task_name, OutboxState.PENDING, size, OutboxState.RUNNING, leased_until, OutboxState.PENDING]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    # JSON comes back as text (Django's PostgreSQL and SQLite backends), as the model field would read it.
    return sorted((entry_id, json.loads(args) if isinstance(args, str | bytes) else args) for entry_id, args in rows)


def _run_claimed(task: Any, entry_id: int, args: list[Any]) -> None:
    """One claimed entry's run (its first attempt) inside a drain, recorded as :class:`OutboxTask` records its own."""
    attempt = 1
    try:
        task.run(*args)
    except Exception as exc:
        if isinstance(exc, tuple(getattr(task, "autoretry_for", ()) or ())):
            # Its own message from now on, after the task's backoff: no Celery retry is coming, so the
            # sweep publishes it once that is over (not a lease later, as after a Celery retry).
            pause = timedelta(seconds=int(getattr(task, "retry_backoff", 0) or 0) or 1)
            _record(entry_id, attempt, state=OutboxState.PENDING, available_at=timezone.now() + pause)
            logger.warning("outbox entry %s (%s) will be retried: %s", entry_id, task.name, exc)
        else:
            fail(entry_id, attempt, exc)
            logger.exception("outbox entry %s (%s) failed", entry_id, task.name)
        return
    finish(entry_id, attempt)


def drain(task_name: str, *, limit: int = DRAIN_RUN_LIMIT) -> int:
    """Run the task's fresh entries in batches until there are none (or ``limit`` ran); how many ran."""
    _forget_kick(task_name)
    task = _task(task_name)
    if task is None:
        logger.error("outbox drain of %s: no such task here; the sweep will publish its entries", task_name)
        return 0
    ran = 0
    while ran < limit:
        size = min(DRAIN_BATCH, limit - ran)
        claimed = claim_batch(task_name, size=size)
        for entry_id, args in claimed:
            _run_claimed(task, entry_id, args)
        ran += len(claimed)
        if len(claimed) < size:
            # Every fresh entry committed before the claim was taken, but for those a concurrent drain
            # holds; one committed since this drain began kicked a drain of its own (the kick was
            # forgotten above). So no claim is left to make: it would find nothing.
            return ran
    kick(task_name)  # more may be waiting: a fresh drain, behind whatever else the queue holds
    return ran


# Not counted: a drain delivered again after its worker died takes only fresh entries, and the one
# the dead run was on has had its attempt, so it is the sweep's, which counts that entry's
# interruptions. The count cost three trips to Redis per drain, a tenth of a worker's time on
# customers' messages (bench.live, py-spy).
@shared_task(name=DRAIN_TASK, ignore_result=True, acks_late=True, counts_unfinished_runs=False)
def drain_task(task_name: str) -> int:
    return drain(task_name)


# --- Runs -------------------------------------------------------------------------------------------


def claim(entry_id: int, *, now: datetime | None = None) -> int | None:
    """Start a run of the entry: the attempt's number, or None when it must not run now.

    Not run: gone, finished, dead, or running elsewhere within its lease. An entry found
    running past its lease was interrupted (its worker died); after too many of those it is
    dead-lettered instead of run again.
    """
    now = now or timezone.now()
    entry = OutboxEntry.objects.filter(pk=entry_id).first()
    if entry is None or entry.state not in OPEN_STATES:
        return None
    interrupted = entry.interrupted
    if entry.state == OutboxState.RUNNING:
        if entry.available_at > now:
            return None  # a live run holds it
        interrupted += 1
    current = Q(pk=entry.pk, state=entry.state, attempts=entry.attempts)
    if interrupted >= settings.OUTBOX_MAX_INTERRUPTIONS:
        _dead_letter(entry, current, interrupted, now)
        return None
    attempt = entry.attempts + 1
    taken = OutboxEntry.objects.filter(current).update(
        state=OutboxState.RUNNING,
        attempts=attempt,
        interrupted=interrupted,
        available_at=now + timedelta(seconds=entry.lease_seconds),
    )
    return attempt if taken == 1 else None


def _dead_letter(entry: OutboxEntry, current: Q, interrupted: int, now: datetime) -> None:
    error = f"dead-lettered: {interrupted} run(s) never finished (the worker was killed or stopped)"
    if OutboxEntry.objects.filter(current).update(
        state=OutboxState.DEAD, interrupted=interrupted, finished_at=now, last_error=error
    ):
        logger.error("outbox entry %s (%s%r) %s", entry.pk, entry.task_name, tuple(entry.args), error)


def _record(entry_id: int, attempt: int, **fields: Any) -> bool:
    # Only the run that holds the attempt records its end (a slow run overtaken by a newer one does not).
    return bool(OutboxEntry.objects.filter(pk=entry_id, attempts=attempt, state=OutboxState.RUNNING).update(**fields))


def finish(entry_id: int, attempt: int) -> None:
    _record(entry_id, attempt, state=OutboxState.DONE, finished_at=timezone.now(), last_error="")


def fail(entry_id: int, attempt: int, exc: BaseException) -> None:
    # The exception's type and message only: arguments and locals may carry secrets.
    _record(
        entry_id,
        attempt,
        state=OutboxState.FAILED,
        finished_at=timezone.now(),
        last_error=f"{type(exc).__name__}: {exc}"[:2000],
    )


def retry_later(entry_id: int, attempt: int, when: Any) -> None:
    """Celery retries the task with a message of its own; the sweep waits for it, and then a lease."""
    now = timezone.now()
    if isinstance(when, datetime):
        eta = when
    elif isinstance(when, int | float):
        eta = now + timedelta(seconds=when)
    else:
        eta = now
    entry = OutboxEntry.objects.filter(pk=entry_id).only("lease_seconds").first()
    lease = entry.lease_seconds if entry else _lease(None)
    _record(entry_id, attempt, state=OutboxState.PENDING, available_at=eta + timedelta(seconds=lease))


# How long a task's unfinished runs are remembered (a redelivery comes within seconds).
UNFINISHED_RUNS_TTL_SECONDS = 24 * 3600

# Entries whose run is on this thread's stack: an eager retry (tests, apply()) runs inside the run it retries.
_local = threading.local()


def _entry_id(request: Any) -> int | None:
    value = getattr(request, HEADER, None)
    if value is None:
        value = (getattr(request, "headers", None) or {}).get(HEADER)
    return int(value) if isinstance(value, int | str) and str(value).isdecimal() else None


class OutboxTask(Task):
    """The app's task class: a run carrying an outbox entry's header is claimed, then recorded."""

    # Count a run without an entry until it finishes, so that one that keeps killing its worker is
    # dropped (module docstring, 5). Off for a task whose redelivery cannot do again what killed it.
    counts_unfinished_runs = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        request = self.request_stack.top
        entry_id = _entry_id(request) if request is not None else None
        if entry_id is None:
            return self._call_counting_unfinished_runs(request, *args, **kwargs)
        running: set[int] = _local.__dict__.setdefault("running", set())
        if entry_id in running:  # an eager retry inside the run that retries: same attempt
            return self.run(*args, **kwargs)
        attempt = claim(entry_id)
        if attempt is None:
            logger.info("outbox entry %s: %s not run (finished, dead or running elsewhere)", entry_id, self.name)
            return None
        # The worker (and eager apply) pushed this run's request already: run the body in it, so the
        # task sees its own retries count.
        running.add(entry_id)
        try:
            result = self.run(*args, **kwargs)
        except Retry as exc:
            retry_later(entry_id, attempt, exc.when)
            raise
        except Exception as exc:
            fail(entry_id, attempt, exc)
            raise
        finally:
            running.discard(entry_id)
        finish(entry_id, attempt)
        return result

    def _call_counting_unfinished_runs(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        task_id = getattr(request, "id", None)
        if not task_id or not self.counts_unfinished_runs:
            return super().__call__(*args, **kwargs)
        key = f"task-unfinished-runs:{task_id}"
        unfinished = counters.hit(key, UNFINISHED_RUNS_TTL_SECONDS) - 1  # the runs before this one
        if unfinished >= settings.OUTBOX_MAX_INTERRUPTIONS:
            logger.error(
                "task %s[%s] dropped: its last %s runs never finished (each killed its worker?)",
                self.name,
                task_id,
                unfinished,
            )
            return None
        try:
            return super().__call__(*args, **kwargs)
        finally:
            counters.forget(key)


# --- The sweep ----------------------------------------------------------------------------------------


def due_entries(*, now: datetime | None = None, limit: int = SWEEP_LIMIT) -> list[OutboxEntry]:
    now = now or timezone.now()
    return list(
        OutboxEntry.objects.filter(state__in=OPEN_STATES, available_at__lte=now).order_by("available_at", "pk")[:limit]
    )


def sweep(*, now: datetime | None = None) -> int:
    """Publish again every entry the broker lost or whose worker died; returns how many were published.

    Each entry is taken with a conditional update of its ``available_at`` (pushed a grace period
    ahead), so two sweeps running at once publish it once; a publish that fails puts it back. A
    run found past its lease is counted as interrupted (and dead-lettered after too many).
    Runs themselves are claimed by the worker, so a message published twice still runs once.
    """
    now = now or timezone.now()
    grace = timedelta(seconds=settings.OUTBOX_PUBLISH_GRACE_SECONDS)
    published = 0
    broker_down = False
    for entry in due_entries(now=now):
        if broker_down:
            break
        current = Q(pk=entry.pk, state=entry.state, attempts=entry.attempts, available_at=entry.available_at)
        if entry.state == OutboxState.RUNNING:  # past its lease: the run's worker died
            interrupted = entry.interrupted + 1
            if interrupted >= settings.OUTBOX_MAX_INTERRUPTIONS:
                _dead_letter(entry, current, interrupted, now)
                continue
            taken = OutboxEntry.objects.filter(current).update(
                state=OutboxState.PENDING, interrupted=interrupted, available_at=now + grace
            )
        else:
            taken = OutboxEntry.objects.filter(current).update(available_at=now + grace)
        if not taken:
            continue
        if publish(entry.pk, entry.task_name, entry.args):
            published += 1
        else:
            broker_down = True  # no point trying the rest now: the next sweep tries again
            OutboxEntry.objects.filter(pk=entry.pk, state=OutboxState.PENDING, available_at=now + grace).update(
                available_at=now
            )
    OutboxEntry.objects.filter(
        state__in=(OutboxState.DONE, OutboxState.FAILED), finished_at__lt=now - KEEP_FINISHED
    ).delete()
    if published:
        logger.info(
            "outbox sweep on %s published %s entr%s again",
            socket.gethostname(),
            published,
            "y" if published == 1 else "ies",
        )
    return published
