"""Faults with real processes: Redis stopped, a worker killed, a task that kills its worker, two beats.

Each test starts daphne, Celery workers and beat (tests/reliability/procs.py) against the test
database and a private Redis, sends real signed Twilio webhooks, breaks something for real
(stops Redis, SIGKILLs a worker) and then checks what docs/RELIABILITY.md promises.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from django.db import connection

from channels_app.twilio.tasks import PROCESS_MESSAGE
from conversations.models import Direction, Message
from core.models import OutboxEntry, OutboxState, WorkerHeartbeat
from tests import factories as f
from tests.core.test_run_modes import ROOT
from tests.fakes.twilio_server import PUBLIC_BASE_URL as SIGNED_BASE
from tests.fakes.twilio_server import FakeTwilio, running_fake_twilio, sign, sms_payload
from tests.reliability.procs import Stack, running_stack, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with running_fake_twilio() as fake:
        yield fake


@pytest.fixture
def stack(tmp_path: Path, fake_twilio: FakeTwilio) -> Iterator[Stack]:
    with running_stack(tmp_path, TWILIO_API_BASE_URL=fake_twilio.base_url, ASSISTANT_AUTORUN="true") as s:
        yield s


@pytest.fixture
def sms_line(db: Any) -> Any:
    """An SMS inbox whose assistant answers every message (the built-in local responder)."""
    agent = f.AgentFactory(username="alice")
    inbox = f.InboxFactory(name="SMS line", kind="sms", members=[agent], assistant_enabled=True)
    f.KnowledgeArticleFactory(title="Delivery times", body="Orders are delivered within three working days.")
    return inbox


def post_sms(base: str, inbox: Any, payload: dict[str, str]) -> requests.Response:
    path = f"/channels/twilio/{inbox.webhook_token}/messages/"
    return requests.post(
        base + path, data=payload, headers={"X-Twilio-Signature": sign(SIGNED_BASE + path, payload)}, timeout=30
    )


def customer_visible_outbound(conversation_id: int) -> list[Message]:
    return list(
        Message.objects.filter(conversation_id=conversation_id, direction=Direction.OUTBOUND, is_private_note=False)
    )


def sends_to(fake: FakeTwilio, number: str) -> list[Any]:
    return [r for r in fake.sent_messages if r.param("To") == number]


# --- 3. Redis down while webhooks arrive -----------------------------------------------------------------


def test_redis_down_webhooks_still_answer_and_the_follow_up_work_runs_once_redis_is_back(
    stack: Stack, sms_line: Any, fake_twilio: FakeTwilio
) -> None:
    _web, base = stack.web()
    stack.worker()
    stack.beat()

    stack.redis.stop()  # Redis is gone: no broker, no channel layer, no cache
    payloads = [sms_payload(sender=f"+1415555{100 + i:04d}", body="When will my order arrive?") for i in range(4)]
    for payload in payloads:
        response = post_sms(base, sms_line, payload)
        assert response.status_code == 200, f"{response.status_code} {response.text[:500]}\n{stack.logs()}"
    # Committed before the answer: every message is accepted, kept as an outbox row for the inbound worker.
    waiting = OutboxEntry.objects.filter(task_name=PROCESS_MESSAGE)
    assert sorted(entry.args[1]["MessageSid"] for entry in waiting) == sorted(p["MessageSid"] for p in payloads)
    assert set(waiting.values_list("state", flat=True)) == {OutboxState.PENDING}
    assert not Message.objects.exists() and fake_twilio.sent_messages == []

    stack.redis.start()  # back (empty: whatever it held is lost, as after a crash)
    for payload in payloads:
        wait_for(
            f"the assistant's reply to {payload['From']} to be sent",
            lambda p=payload: len(sends_to(fake_twilio, p["From"])) >= 1,
            children=tuple(stack.children),
        )
    time.sleep(3)  # a few more sweeps: nothing runs twice
    for payload in payloads:
        assert Message.objects.filter(channel_message_id=payload["MessageSid"]).count() == 1
        message = Message.objects.get(channel_message_id=payload["MessageSid"])
        assert len(customer_visible_outbound(message.conversation_id)) == 1
        assert len(sends_to(fake_twilio, payload["From"])) == 1
    assert not OutboxEntry.objects.exclude(state=OutboxState.DONE).exists(), list(
        OutboxEntry.objects.exclude(state=OutboxState.DONE).values()
    )


# --- 1. A worker killed while processing an inbound message ------------------------------------------------


def _worker_waiting_on_lock(database: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'", [database]
        )
        return bool(cursor.fetchone()[0])


def test_worker_killed_while_processing_an_inbound_message_answers_it_once_after_redelivery(
    stack: Stack, sms_line: Any, fake_twilio: FakeTwilio
) -> None:
    _web, base = stack.web()
    worker = stack.worker()
    stack.beat()
    db = connection.settings_dict
    # Hold the knowledge base: the assistant reads it first thing, so the worker stops right there,
    # in the middle of processing the message (webhooks do not read it and are not held up).
    blocker = psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"]
    )
    try:
        blocker.execute("LOCK TABLE routing_knowledgearticle IN ACCESS EXCLUSIVE MODE")
        payload = sms_payload(sender="+14155550123", body="When will my order arrive?")
        assert post_sms(base, sms_line, payload).status_code == 200
        wait_for(
            "the worker to be busy with the message",
            lambda: _worker_waiting_on_lock(db["NAME"]),
            children=tuple(stack.children),
        )
        os.killpg(worker.process.pid, signal.SIGKILL)  # the whole worker, mid-task
        worker.wait(10)
    finally:
        blocker.rollback()
        blocker.close()
    message = Message.objects.get(channel_message_id=payload["MessageSid"])
    entry = OutboxEntry.objects.get(dedup_key=f"assistant:{message.pk}")
    assert entry.state == OutboxState.RUNNING and entry.attempts == 1
    assert customer_visible_outbound(message.conversation_id) == [] and fake_twilio.sent_messages == []

    stack.worker()  # a new worker; the sweep sees the dead run's lease run out and publishes it again
    wait_for(
        "the reply to be sent", lambda: len(sends_to(fake_twilio, payload["From"])) >= 1, children=tuple(stack.children)
    )
    time.sleep(3)
    assert Message.objects.filter(channel_message_id=payload["MessageSid"]).count() == 1
    assert len(customer_visible_outbound(message.conversation_id)) == 1
    assert len(sends_to(fake_twilio, payload["From"])) == 1
    entry.refresh_from_db()
    assert (entry.state, entry.attempts, entry.interrupted) == (OutboxState.DONE, 2, 1)


# --- 2. A task that always kills its worker ----------------------------------------------------------------


def test_a_task_that_always_kills_its_worker_is_dead_lettered_and_other_work_flows(stack: Stack) -> None:
    stack.env["OUTBOX_MAX_INTERRUPTIONS"] = "3"
    stack.worker("--include", "tests.reliability.crash_tasks", concurrency=2)
    stack.beat()
    poison = f.OutboxEntryFactory(task_name="tests.reliability.crash_tasks.kill_own_worker", args=[], lease_seconds=4)
    healthy: list[Any] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        poison.refresh_from_db()
        if poison.state == OutboxState.DEAD:
            break
        healthy.append(f.OutboxEntryFactory(args=[f"flow-{len(healthy)}"]))  # ordinary work, swept by beat
        time.sleep(1)
    assert poison.state == OutboxState.DEAD, f"{poison.state} after {poison.attempts} runs\n{stack.logs()}"
    assert poison.interrupted == 3 and poison.attempts == 3
    assert "dead-lettered" in poison.last_error
    wait_for(
        "the ordinary work to finish",
        lambda: not OutboxEntry.objects.filter(pk__in=[e.pk for e in healthy]).exclude(state="done").exists(),
        children=tuple(stack.children),
    )
    names = [f"flow-{i}" for i in range(len(healthy))]
    assert WorkerHeartbeat.objects.filter(name__in=names).count() == len(healthy)
    assert set(WorkerHeartbeat.objects.filter(name__in=names).values_list("beats", flat=True)) == {1}


def test_a_task_without_an_outbox_entry_that_kills_its_worker_is_dropped_after_three_runs(stack: Stack) -> None:
    """Beat's tasks, webhook deliveries, mails: Celery redelivers them when the worker dies; not forever."""
    from celery import Celery

    stack.env["OUTBOX_MAX_INTERRUPTIONS"] = "3"
    worker = stack.worker("--include", "tests.reliability.crash_tasks", concurrency=1)
    publisher = Celery(broker=stack.redis.url, set_as_current=False)  # not the app of later tests in this process
    publisher.send_task("tests.reliability.crash_tasks.count_then_kill_own_worker", args=["poison"], queue="default")
    wait_for(
        "the fourth delivery to be dropped",
        lambda: "dropped: its last 3 runs never finished" in worker.output(),
        timeout=90,
        children=tuple(stack.children),
    )
    assert WorkerHeartbeat.objects.get(name="poison").beats == 3  # three runs, each killed its worker
    publisher.send_task("core.tasks.record_heartbeat", args=["after-the-poison"], queue="default")
    wait_for(
        "ordinary work to run",
        lambda: WorkerHeartbeat.objects.filter(name="after-the-poison").exists(),
        children=tuple(stack.children),
    )
    time.sleep(2)  # nothing is left to redeliver the poison again
    assert WorkerHeartbeat.objects.get(name="poison").beats == 3


# --- 7. Two beat schedulers ----------------------------------------------------------------------------------


def _queued_tasks(stack: Stack, task: str) -> int:
    client = stack.redis.client()
    count = 0
    for raw in client.lrange("default", 0, -1):
        if json.loads(raw)["headers"].get("task") == task:
            count += 1
    return count


def test_two_beats_send_each_periodic_task_once_per_interval_and_one_takes_over(stack: Stack) -> None:
    first = stack.beat()
    second = stack.beat()  # started by mistake, or left over from a deploy
    heartbeat = "core.tasks.record_heartbeat"  # every second (HEARTBEAT_INTERVAL_SECONDS=1)
    wait_for("a beat to send", lambda: _queued_tasks(stack, heartbeat) >= 1, children=(first, second))
    started, counted = time.monotonic(), _queued_tasks(stack, heartbeat)
    time.sleep(8)
    sent = _queued_tasks(stack, heartbeat) - counted
    elapsed = time.monotonic() - started
    assert elapsed - 2 <= sent <= elapsed + 1, f"{sent} heartbeats in {elapsed:.1f} s\n{stack.logs()}"

    # The holder dies: the other takes over once its lease runs out (BEAT_LEASE_SECONDS=3).
    holder = first if "holds the lease" in first.output() else second
    other = second if holder is first else first
    os.killpg(holder.process.pid, signal.SIGKILL)
    counted = _queued_tasks(stack, heartbeat)
    wait_for(
        "the other beat to take over",
        lambda: _queued_tasks(stack, heartbeat) >= counted + 3,
        timeout=30,
        children=(other,),
    )
    assert "holds the lease" in other.output()


# --- 5. PostgreSQL restarted in the middle of a burst of webhooks ----------------------------------------------


PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), Path("/usr/bin"))


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on a free port: restarting it disturbs nobody else.

    PostgreSQL refuses to run as root: as root (CI containers), its files belong to the ``postgres``
    user and its commands run as that user.
    """

    def __init__(self) -> None:
        from tests.core.test_run_modes import free_port

        self.root = Path(tempfile.mkdtemp(prefix="inbox-pg-"))
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.root, user="postgres", group="postgres")
        self.dir = self.root / "data"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/inbox"
        self.run(str(PG_BIN / "initdb"), "-D", str(self.dir), "-U", "postgres", "--auth=trust", "--no-sync")

    def run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        result = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{command[0]} failed: {result.stdout}{result.stderr}"

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.root / "pg.log")
        self.run(str(PG_BIN / "pg_ctl"), "-D", str(self.dir), "-o", options, "-l", log, "-w", "-t", "60", *args)

    def connect(self, dbname: str = "inbox") -> psycopg.Connection[Any]:
        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, autocommit=True)


def _twilio_retries(base: str, token: str, payload: dict[str, str], deadline: float) -> int:
    """Post like Twilio does: again after a failure or a 5xx, until a 2xx; returns the number of tries."""
    path = f"/channels/twilio/{token}/messages/"
    tries = 0
    while time.monotonic() < deadline:
        tries += 1
        try:
            response = requests.post(
                base + path,
                data=payload,
                headers={"X-Twilio-Signature": sign(SIGNED_BASE + path, payload)},
                timeout=10,
            )
            if response.status_code < 300:
                return tries
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{payload['MessageSid']} never accepted after {tries} tries")


def test_postgres_restart_mid_burst_keeps_each_message_sid_once_and_everyone_reconnects(
    tmp_path: Path, fake_twilio: FakeTwilio
) -> None:
    pg = PrivatePostgres()
    pg.ctl("start")
    try:
        with pg.connect("postgres") as admin:
            admin.execute("CREATE DATABASE inbox")
        with running_stack(tmp_path, DATABASE_URL=pg.url, TWILIO_API_BASE_URL=fake_twilio.base_url) as stack:
            env = stack.env
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput"],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                timeout=300,
            )
            made = subprocess.run(
                [
                    sys.executable,
                    "manage.py",
                    "shell",
                    "-c",
                    "from tests import factories as f; "
                    "print(f.InboxFactory(kind='sms', assistant_enabled=False).webhook_token)",
                ],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                text=True,
                timeout=120,
            )
            token = made.stdout.strip().splitlines()[-1]
            _web, base = stack.web()
            stack.worker()
            stack.beat()

            payloads = [sms_payload(sender=f"+1415666{i:04d}", body=f"burst {i}") for i in range(30)]
            deadline = time.monotonic() + 150
            tries: list[int] = []
            sent = threading.Semaphore(0)

            def deliver(batch: list[dict[str, str]]) -> None:
                for payload in batch:
                    tries.append(_twilio_retries(base, token, payload, deadline))
                    sent.release()
                    time.sleep(0.1)

            # Three senders, as Twilio delivers concurrently; the server restarts while they are at it.
            senders = [threading.Thread(target=deliver, args=(payloads[i::3],)) for i in range(3)]
            for sender in senders:
                sender.start()
            for _ in range(6):
                assert sent.acquire(timeout=60)
            pg.ctl("restart", "-m", "fast")  # every connection of web, worker and beat is cut
            for sender in senders:
                sender.join(timeout=160)
            assert len(tries) == len(payloads)
            for payload in payloads[:5]:  # Twilio also replays some that did get through
                _twilio_retries(base, token, payload, deadline)
            print(f"tries per webhook: {tries}")

            # The worker reconnected by itself: every accepted message was stored (once, however
            # often Twilio delivered it), routing of every new conversation ran, and its members'
            # new-conversation notifications were made (each an outbox entry of its own).
            def stored_and_routed() -> bool:
                with pg.connect() as db:
                    states = db.execute(
                        "SELECT coalesce(split_part(dedup_key, ':', 1), task_name), state, count(*) "
                        "FROM core_outboxentry GROUP BY 1, 2"
                    ).fetchall()
                found = {(kind, state): n for kind, state, n in states}
                return found.get((PROCESS_MESSAGE, "done"), 0) >= len(payloads) and found == {
                    (PROCESS_MESSAGE, "done"): found[(PROCESS_MESSAGE, "done")],
                    ("route", "done"): len(payloads),
                    ("notify-new-conversation", "done"): len(payloads),
                }

            wait_for(
                "every message to be stored and routed", stored_and_routed, timeout=90, children=tuple(stack.children)
            )
            with pg.connect() as db:
                rows = db.execute(
                    "SELECT channel_message_id, count(*) FROM conversations_message "
                    "WHERE channel_message_id LIKE 'SM%%' GROUP BY channel_message_id"
                ).fetchall()
            assert dict(rows) == {p["MessageSid"]: 1 for p in payloads}
    finally:
        with contextlib.suppress(Exception):
            pg.ctl("stop", "-m", "immediate")
        pg.remove()
