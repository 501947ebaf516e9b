"""Ingest, end to end and memory, against the production topology on this machine.

Starts what the Procfile runs (two daphne web servers, a Celery worker for both queues, the
dedicated inbound worker and beat) on a fresh database with PostgreSQL and Redis, then drives it
with an asyncio client (aiohttp) from this process:

- ingest: signed Twilio SMS webhooks (stored, routed, broadcast), spread over both web servers,
  with the ``AGENTS`` agents' websockets connected and reading (a process of their own), so that
  the broadcast reaches the sockets it reaches in production; the baseline runs beside them too.
  Maximum throughput with a closed loop of ``CONCURRENCY`` clients: the webhooks answered (each
  message durable from its answer, stored by the inbound worker after) and the whole path (the
  answered webhooks over the time until the workers have finished everything they set off); then
  p99 latency in an open loop at half the whole-path rate. Two traffic mixes, both measured and
  printed: the worst case, where every webhook comes from a new sender (a new conversation:
  routed, and every inbox member notified), and a mix closer to real SMS traffic, where
  ``RETURNING_SHARE`` of the webhooks are follow-ups from senders whose conversation is open
  (``RETURNING_SENDERS`` of them, each sent one message before the measurement) and the rest new
  senders. Baseline: ``/bench/insert/``
  (bench/urls.py), a bare Django view that does one INSERT, served by the same processes,
  measured the same way in the same run.
  Targets: throughput >= 50 % of the baseline's; p99 at half load <= 3x the baseline's.
- end to end: ``AGENTS`` agents connected over websockets (half to each web server); webhooks
  posted in an open loop at half the maximum whole-path rate (measured with agents connected),
  each carrying a sequence number; the time from posting to each agent receiving the message's
  live event (p50, p99; target p99 <= 100 ms) and every agent must receive every sequence number
  (target: zero lost). Baseline: the round trip of a ping on the same sockets. Both mixes, each
  at half its own maximum rate.
- memory: peak RSS (VmHWM) of a web server and of the worker (the main process and its pool)
  after the load; baseline: the same process idle, just after start.

    python -m bench.live
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    PYTHON,
    REDIS_URL,
    ROOT,
    Figure,
    bench_env,
    database_url,
    median,
    percentile,
    report,
    skip,
)

LIVE_DB = os.environ.get("BENCH_LIVE_DATABASE", "inbox_bench_live")
AUTH_TOKEN = "bench-twilio-auth-token-0123456789"  # noqa: S105  (a local fake account)
PUBLIC_BASE_URL = "http://bench.example"
AGENTS = int(os.environ.get("BENCH_AGENTS", "200"))
RETURNING_SENDERS = 100
RETURNING_SHARE = float(os.environ.get("BENCH_RETURNING_SHARE", "0.8"))
CONCURRENCY = 16
THROUGHPUT_SECONDS = float(os.environ.get("BENCH_THROUGHPUT_SECONDS", "12"))
LATENCY_SECONDS = float(os.environ.get("BENCH_LATENCY_SECONDS", "15"))
E2E_SECONDS = float(os.environ.get("BENCH_E2E_SECONDS", "20"))
# Webhooks per second of the end-to-end phase; 0: half the measured maximum (the target's load).
# A fixed rate compares two versions whose maximum differs at the same load.
E2E_RATE = float(os.environ.get("BENCH_E2E_RATE", "0"))
# How long the workers may take to finish what the throughput phase's webhooks set off.
DRAIN_SECONDS = float(os.environ.get("BENCH_DRAIN_SECONDS", "600"))
STARTUP_SECONDS = 90
BIN = Path(PYTHON).parent
SEQ = re.compile(r"seq (\d+)\b")
# An event's type, first in its JSON as the server writes it: the readers look at no more of a frame
# than that, and the sequence number of a message.created, so that 200 sockets' frames read in this
# one process are timed as they arrive, not after decoding every event before them (each 1-2 kB).
EVENT_TYPE = re.compile(r'\{"type": "([\w.]+)"')
_new_senders = itertools.count()


def new_sender() -> str:
    """A number no webhook of this run has come from (so a new contact and conversation)."""
    return f"+1646{next(_new_senders):07d}"


RETURNING = [f"+1415{3000000 + n:07d}" for n in range(RETURNING_SENDERS)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- The stack ------------------------------------------------------------------------------------


@dataclass
class Stack:
    env: dict[str, str]
    ports: list[int]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    webhook_path: str = ""
    agent_ids: list[int] = field(default_factory=list)

    @property
    def bases(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    def pids(self, name: str) -> list[int]:
        """The process and its descendants (a Celery worker's pool)."""
        root = self.processes[name].pid
        found = [root]
        for pid in _all_pids():
            if _ancestor(pid, root):
                found.append(pid)
        return found


def _all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _ancestor(pid: int, root: int) -> bool:
    seen = 0
    while pid > 1 and seen < 50:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
        if parent == root:
            return True
        pid, seen = parent, seen + 1
    return False


def memory_kb(pid: int, key: str) -> int:
    """``VmHWM`` (peak resident set) or ``VmRSS`` of a process, in kB (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _recreate_database(env: dict[str, str]) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(database_url("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(LIVE_DB)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(LIVE_DB)))
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)


def _fixtures(stack: Stack) -> None:
    """An SMS inbox (assistant off: customers go straight to routing), a team, the agents; the baseline table."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from bench.urls import BASELINE_TABLE
    from conversations.models import AgentProfile, AssignmentStrategy, Availability, ChannelKind, Inbox, Team

    User = get_user_model()
    team = Team.objects.create(name="Bench", assignment_strategy=AssignmentStrategy.CAPACITY)
    inbox = Inbox.objects.create(
        name="Bench SMS",
        kind=ChannelKind.SMS,
        config={"phone_number": "+14155550100"},
        assistant_enabled=False,
        default_team=team,
    )
    agents = User.objects.bulk_create(
        [User(username=f"live{n:03d}", email=f"live{n:03d}@bench.example") for n in range(AGENTS)]
    )
    profiles = AgentProfile.objects.bulk_create(
        [AgentProfile(user=user, availability=Availability.ONLINE, capacity=50) for user in agents]
    )
    for profile in profiles:
        profile.teams.add(team)
    inbox.members.set(agents)
    stack.webhook_path = f"/channels/twilio/{inbox.webhook_token}/messages/"
    stack.agent_ids = [user.pk for user in agents]
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {BASELINE_TABLE} (id bigserial PRIMARY KEY, sid text, body text, created_at timestamptz)"
        )


def _spawn(stack: Stack, name: str, argv: list[str], log_dir: Path) -> None:
    log = open(log_dir / f"{name}.log", "wb")  # noqa: SIM115  (closed with the process)
    stack.processes[name] = subprocess.Popen(
        argv, cwd=ROOT, env=stack.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _wait_http(url: str, stack: Stack, deadline: float) -> None:
    import urllib.request

    while time.monotonic() < deadline:
        for name, process in stack.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode} during startup")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310  (our own local server)
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {STARTUP_SECONDS} s")


@contextlib.contextmanager
def stack_running() -> Iterator[Stack]:
    import redis

    log_dir = Path(tempfile.mkdtemp(prefix="bench-live-"))
    env = bench_env(
        LIVE_DB,
        REDIS_URL=REDIS_URL,
        DJANGO_SETTINGS_MODULE="bench.settings",
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_ACCOUNT_SID="AC" + "0" * 32,
        PUBLIC_BASE_URL=PUBLIC_BASE_URL,
        ASSISTANT_AUTORUN="false",
        INBOX_VAR_DIR=str(log_dir),
        PYTHONPATH=str(ROOT),
        DB_POOL_MAX_SIZE=os.environ.get("DB_POOL_MAX_SIZE", "10"),  # daphne does not reuse persistent ones
    )
    _recreate_database(env)
    os.environ.update(env)
    import django

    django.setup()
    stack = Stack(env=env, ports=[free_port(), free_port()])
    _fixtures(stack)
    redis.Redis.from_url(REDIS_URL).flushdb()
    try:
        for index, port in enumerate(stack.ports, start=1):
            _spawn(
                stack,
                f"web.{index}",
                [str(BIN / "daphne"), "--bind", "127.0.0.1", "--port", str(port), "inbox_project.asgi:application"],
                log_dir,
            )
        celery = str(BIN / "celery")
        _spawn(
            stack,
            "worker.1",
            [celery, "-A", "inbox_project", "worker", "--queues", "inbound,default", "--hostname", "bench-worker@%h",
             "--loglevel", "WARNING"],
            log_dir,
        )  # fmt: skip
        _spawn(
            stack,
            "inbound.1",
            [celery, "-A", "inbox_project", "worker", "--queues", "inbound", "--hostname", "bench-inbound@%h",
             "--pool", "threads", "--concurrency", os.environ.get("INBOUND_CONCURRENCY", "8"), "--loglevel", "WARNING"],
            log_dir,
        )  # fmt: skip
        _spawn(
            stack,
            "beat.1",
            [celery, "-A", "inbox_project", "beat", "--schedule", str(log_dir / "celerybeat-schedule"),
             "--loglevel", "WARNING"],
            log_dir,
        )  # fmt: skip
        deadline = time.monotonic() + STARTUP_SECONDS
        for base in stack.bases:
            _wait_http(f"{base}/healthz/", stack, deadline)
        yield stack
    finally:
        for process in stack.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in stack.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        from django.db import connections

        connections.close_all()
        shutil.rmtree(log_dir, ignore_errors=True)


# --- Requests -------------------------------------------------------------------------------------


class Requests:
    """Unique Twilio SMS webhooks (or baseline posts), signed as Twilio signs them."""

    def __init__(self, stack: Stack, *, baseline: bool, run: str, returning: float = 0.0) -> None:
        from twilio.request_validator import RequestValidator

        self.validator = RequestValidator(AUTH_TOKEN)
        self.stack = stack
        self.baseline = baseline
        self.run = run
        self.path = "/bench/insert/" if baseline else stack.webhook_path
        self.returning = returning

    def sender(self, seq: int) -> str:
        """A returning sender for ``returning`` of the sequence numbers (spread evenly), else a new one."""
        if self.returning and (seq * 7919) % 1000 < self.returning * 1000:
            return RETURNING[seq % len(RETURNING)]
        return new_sender()

    def make(self, seq: int, sender: str | None = None) -> tuple[str, dict[str, str], dict[str, str]]:
        params = {
            "AccountSid": "AC" + "0" * 32,
            "MessageSid": f"SM{self.run}{seq:024d}",
            "From": sender or self.sender(seq),
            "To": "+14155550100",
            "Body": f"Hi, bench seq {seq}: my card reader shows error E204 again",
            "NumSegments": "1",
            "NumMedia": "0",
        }
        signature = self.validator.compute_signature(PUBLIC_BASE_URL + self.path, params)
        base = self.stack.bases[seq % len(self.stack.bases)]
        return base + self.path, params, {"X-Twilio-Signature": signature}


async def _post(session: Any, request: tuple[str, dict[str, str], dict[str, str]]) -> bool:
    url, data, headers = request
    async with session.post(url, data=data, headers=headers) as response:
        await response.read()
        return response.status == 200


async def closed_loop(requests: Requests, *, concurrency: int, seconds: float, first_seq: int) -> tuple[float, int]:
    """Requests per second with ``concurrency`` clients each posting as soon as the last answered; errors."""
    import aiohttp

    counter = iter(range(first_seq, first_seq + 10**9))
    done = errors = 0
    stop = time.perf_counter() + seconds

    async def client(session: Any) -> None:
        nonlocal done, errors
        while time.perf_counter() < stop:
            ok = await _post(session, requests.make(next(counter)))
            done += 1
            errors += not ok

    connector = aiohttp.TCPConnector(limit=concurrency * 2)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return done / elapsed, errors


async def open_loop(
    requests: Requests,
    *,
    rate: float,
    seconds: float,
    first_seq: int,
    sent_at: dict[int, float] | None = None,
) -> tuple[list[float], int, list[int]]:
    """Post at a fixed ``rate`` for ``seconds``; latency (ms) from each request's scheduled time; errors; sequences."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    posted: list[int] = []
    total = int(rate * seconds)
    interval = 1 / rate

    async def one(session: Any, seq: int, scheduled: float) -> None:
        nonlocal errors
        if sent_at is not None:
            sent_at[seq] = scheduled
        try:
            ok = await _post(session, requests.make(seq))
        except Exception:
            ok = False
        latencies.append((time.perf_counter() - scheduled) * 1000)
        if ok:
            posted.append(seq)
        else:
            errors += 1

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter() + 0.05
        tasks = []
        for i in range(total):
            scheduled = start + i * interval
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(session, first_seq + i, scheduled)))
        await asyncio.gather(*tasks)
    return latencies, errors, posted


# --- Agents' sockets ------------------------------------------------------------------------------


@dataclass
class Agent:
    socket: Any
    received: set[int] = field(default_factory=set)
    latencies: list[float] = field(default_factory=list)
    pong: asyncio.Future[float] | None = None


async def connect_agents(stack: Stack, session: Any) -> list[Agent]:
    from conversations.realtime import issue_ticket

    async def connect(index: int, user_id: int) -> Agent:
        base = stack.bases[index % len(stack.bases)]
        url = base.replace("http", "ws", 1) + f"/ws/agent/?ticket={issue_ticket(user_id)}"
        ws = await session.ws_connect(url, origin=base, heartbeat=None, max_msg_size=0)
        hello = json.loads((await ws.receive(timeout=30)).data)
        if hello.get("type") != "hello":
            raise RuntimeError(f"agent socket said {hello}")
        return Agent(socket=ws)

    agents = []
    for chunk in range(0, len(stack.agent_ids), 20):  # tickets live 60 s: connect in small batches
        agents += await asyncio.gather(
            *(connect(i, uid) for i, uid in enumerate(stack.agent_ids[chunk : chunk + 20], start=chunk))
        )
    return agents


async def _listen(bases: list[str], agent_ids: list[int]) -> None:
    """Connect the agents and read (and drop) their events until stdin closes: the listening inbox."""
    import aiohttp

    stack = Stack(env={}, ports=[int(base.rsplit(":", 1)[1]) for base in bases], agent_ids=agent_ids)
    settle_collector()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        agents = await connect_agents(stack, session)
        readers = [asyncio.create_task(read_agent(agent, {})) for agent in agents]
        print("listening", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await asyncio.gather(*(asyncio.wait_for(a.socket.close(), 5) for a in agents), return_exceptions=True)


@contextlib.contextmanager
def agents_listening(stack: Stack) -> Iterator[None]:
    """The ``AGENTS`` agents connected (half to each web server) in a process of their own, for the ingest.

    The whole path includes the broadcast to the agents' sockets, and the end-to-end phase's "half
    load" is half of what the servers manage with them connected. Their own process, so that reading
    their frames does not slow this one's load generator.
    """
    argv = [PYTHON, "-m", "bench.live", "--listen", ",".join(stack.bases), ",".join(map(str, stack.agent_ids))]
    listener = subprocess.Popen(argv, cwd=ROOT, env=stack.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert listener.stdout is not None
        line = listener.stdout.readline()
        if line.strip() != b"listening":
            raise RuntimeError(f"the agents' sockets did not connect (exit {listener.poll()})")
        yield
    finally:
        assert listener.stdin is not None
        listener.stdin.close()
        try:
            listener.wait(30)
        except subprocess.TimeoutExpired:
            listener.kill()
            listener.wait(5)


async def read_agent(agent: Agent, sent_at: dict[int, float]) -> None:
    import aiohttp

    async for message in agent.socket:
        if message.type != aiohttp.WSMsgType.TEXT:
            break
        now = time.perf_counter()
        data = message.data
        head = EVENT_TYPE.match(data)
        kind = head.group(1) if head else json.loads(data).get("type")
        if kind == "message.created":
            match = SEQ.search(data)  # the body's "seq N" (the only number after "seq " in the event)
            if match:
                seq = int(match.group(1))
                agent.received.add(seq)
                if seq in sent_at:
                    agent.latencies.append((now - sent_at[seq]) * 1000)
        elif kind == "pong" and agent.pong is not None and not agent.pong.done():
            agent.pong.set_result(now)


async def ping_round_trips(agents: list[Agent], *, rate: float, seconds: float) -> list[float]:
    """Ping round trips (ms) on the agents' sockets, at ``rate`` per second spread over the sockets."""
    samples: list[float] = []
    loop = asyncio.get_running_loop()

    async def ping(agent: Agent) -> None:
        agent.pong = loop.create_future()
        sent = time.perf_counter()
        await agent.socket.send_str(json.dumps({"type": "ping"}))
        received = await asyncio.wait_for(agent.pong, timeout=10)
        samples.append((received - sent) * 1000)

    tasks = []
    for i in range(int(rate * seconds)):
        tasks.append(asyncio.create_task(ping(agents[i % len(agents)])))
        await asyncio.sleep(1 / rate)
        if i % len(agents) == len(agents) - 1:
            await asyncio.gather(*tasks)  # one ping in flight per socket
            tasks = []
    await asyncio.gather(*tasks)
    return samples


def settle_collector() -> None:
    """Leave what this process has loaded (Django, the fixtures) out of its garbage collector's full passes.

    The agents' sockets are read here: a full collection walking this process's 165,000 objects
    stopped them for 120 ms once per end-to-end run (a ``gc.callbacks`` probe), and every event
    that arrived meanwhile counted the client's pause as the product's latency. Done as the
    servers do it (core/collector.py).
    """
    from core.collector import settle

    settle()


async def end_to_end(
    stack: Stack, *, rate: float, seconds: float, first_seq: int, returning: float = 0.0
) -> dict[str, Any]:
    import aiohttp

    settle_collector()
    # No connection limit: each agent's socket holds one of the connector's connections, and
    # aiohttp's default limit of 100 left the 101st ws_connect waiting until the session's timeout.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        agents = await connect_agents(stack, session)
        sent_at: dict[int, float] = {}
        readers = [asyncio.create_task(read_agent(agent, sent_at)) for agent in agents]
        pings = await ping_round_trips(agents, rate=rate, seconds=min(seconds, 5))
        requests = Requests(stack, baseline=False, run=f"{random.randrange(10**6):06d}", returning=returning)
        latencies, errors, posted = await open_loop(
            requests, rate=rate, seconds=seconds, first_seq=first_seq, sent_at=sent_at
        )
        expected = set(posted)
        deadline = time.perf_counter() + 15
        while time.perf_counter() < deadline and any(expected - agent.received for agent in agents):
            await asyncio.sleep(0.2)
        lost = sum(len(expected - agent.received) for agent in agents)
        # Readers first (a close waits for the server's close frame, which a reader would swallow),
        # then every socket at once.
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await asyncio.gather(*(asyncio.wait_for(a.socket.close(), 5) for a in agents), return_exceptions=True)
    delivered = [x for agent in agents for x in agent.latencies]
    return {
        "posted": len(posted),
        "post_errors": errors,
        "post_p99": percentile(latencies, 99),
        "deliveries": len(delivered),
        "lost": lost,
        "latencies": delivered,
        "pings": pings,
        "agents": len(agents),
    }


# --- The benchmark --------------------------------------------------------------------------------


def _ingest(stack: Stack, baseline: bool, returning: float = 0.0) -> dict[str, float]:
    """Accepted and whole-path throughput, then latency at half the whole-path rate.

    A webhook's answer means the message is durable (the outbox row the inbound worker stores it
    from); the whole path is done when the workers have finished everything it set off (stored,
    routed, notified, broadcast): the accepted webhooks divided by the time from the first post
    until the outbox has nothing left to run. The bare view's work is all done when it answers.
    """
    requests = Requests(stack, baseline=baseline, run=f"{random.randrange(10**6):06d}", returning=returning)
    asyncio.run(closed_loop(requests, concurrency=4, seconds=2, first_seq=0))  # warm up both servers
    _drain_queues(stack)
    started = time.perf_counter()
    accepted, errors = asyncio.run(
        closed_loop(requests, concurrency=CONCURRENCY, seconds=THROUGHPUT_SECONDS, first_seq=10**6)
    )
    posted_for = time.perf_counter() - started
    drained = _drain_queues(stack, timeout=DRAIN_SECONDS)
    whole_path = accepted * posted_for / (time.perf_counter() - started) if drained else 0.0
    latencies, open_errors, _posted = asyncio.run(
        open_loop(requests, rate=(whole_path or accepted) / 2, seconds=LATENCY_SECONDS, first_seq=2 * 10**6)
    )
    return {
        "accepted": accepted,
        "throughput": whole_path,
        "drained": float(drained),
        "errors": errors + open_errors,
        "p50": median(latencies),
        "p99": percentile(latencies, 99),
    }


def _open_returning_conversations(stack: Stack) -> None:
    """One message from each returning sender, so that their later webhooks are follow-ups."""
    import aiohttp

    requests = Requests(stack, baseline=False, run=f"{random.randrange(10**6):06d}")

    async def post_all() -> None:
        slots = asyncio.Semaphore(8)

        async def one(session: Any, index: int, sender: str) -> None:
            async with slots:
                if not await _post(session, requests.make(index, sender=sender)):
                    raise RuntimeError(f"the first message from {sender} was refused")

        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(one(session, i, sender) for i, sender in enumerate(RETURNING)))

    asyncio.run(post_all())


def _drain_queues(stack: Stack, timeout: float = DRAIN_SECONDS) -> bool:
    """Wait for the workers to finish what the load set off (nothing left in the outbox or the queues)."""
    import redis

    from core.models import OutboxEntry
    from core.outbox import OPEN_STATES

    client = redis.Redis.from_url(REDIS_URL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (
            not OutboxEntry.objects.filter(state__in=OPEN_STATES).exists()
            and sum(client.llen(q) for q in ("default", "inbound")) == 0
        ):
            return True
        time.sleep(0.1)
    return False


MIXES = {
    "new": (0.0, "every webhook a new conversation: worst case"),
    "mixed": (RETURNING_SHARE, f"{RETURNING_SHARE:.0%} follow-ups in open conversations"),
}


def _report_ingest(mix: str, hook: dict[str, float], base: dict[str, float]) -> None:
    label = MIXES[mix][1]
    report(
        Figure(
            f"ingest.accepted ({label})",
            hook["accepted"],
            "req/s",
            base["throughput"],
            "bare INSERT view",
            target="",
            ok=None,
            note="webhooks answered: each message durable, stored by the inbound worker after",
        )
    )
    ratio = hook["throughput"] / base["throughput"]
    report(
        Figure(
            f"ingest.throughput, whole path ({label})",
            hook["throughput"],
            "req/s",
            base["throughput"],
            "bare INSERT view",
            target=">= 0.50 of baseline",
            ok=ratio >= 0.5 and hook["errors"] == 0 and bool(hook["drained"]),
            note=f"stored, routed, notified, broadcast; {CONCURRENCY} clients, 2 daphne, 2 workers; "
            f"errors {hook['errors']} vs {base['errors']}" + ("" if hook["drained"] else "; NOT DRAINED"),
        )
    )
    report(
        Figure(
            f"ingest.p99 at half load ({label})",
            hook["p99"],
            "ms",
            base["p99"],
            "bare INSERT view at its half load",
            target="ratio <= 3",
            ok=hook["p99"] / base["p99"] <= 3,
            note=f"p50 {hook['p50']:.1f} ms vs {base['p50']:.1f} ms; "
            f"{(hook['throughput'] or hook['accepted']) / 2:.0f} vs {base['throughput'] / 2:.0f} req/s",
        )
    )


def _report_end_to_end(mix: str, e2e: dict[str, Any], rate: float) -> None:
    label = MIXES[mix][1]
    pings = e2e["pings"]
    report(
        Figure(
            f"end_to_end.p50 ({e2e['agents']} agents, {label})",
            median(e2e["latencies"]),
            "ms",
            median(pings),
            "socket ping round trip",
            target="",
            ok=None,
            note=f"{e2e['posted']} webhooks at {rate:.1f}/s, {e2e['deliveries']} deliveries",
        )
    )
    p99 = percentile(e2e["latencies"], 99)
    report(
        Figure(
            f"end_to_end.p99 ({e2e['agents']} agents, {label})",
            p99,
            "ms",
            percentile(pings, 99),
            "socket ping round trip",
            target="<= 100 ms",
            ok=p99 <= 100,
        )
    )
    report(
        Figure(
            f"end_to_end.lost_events ({label})",
            e2e["lost"],
            "",
            target="0",
            ok=e2e["lost"] == 0 and e2e["post_errors"] == 0,
            note=f"of {e2e['posted'] * e2e['agents']} expected; post errors {e2e['post_errors']}",
        )
    )


def main() -> int:
    from bench.common import database_exists

    if not database_exists("postgres"):
        skip("live", "PostgreSQL is not reachable at 127.0.0.1:5432")
        return 0
    with stack_running() as stack:
        idle = {name: max(memory_kb(pid, "VmRSS") for pid in stack.pids(name)) for name in ("web.1", "worker.1")}
        idle_tree = sum(memory_kb(pid, "VmRSS") for pid in stack.pids("worker.1"))
        with agents_listening(stack):
            base = _ingest(stack, baseline=True)
            _drain_queues(stack)
            hooks = {"new": _ingest(stack, baseline=False)}
            _drain_queues(stack)
            _open_returning_conversations(stack)
            _drain_queues(stack)
            hooks["mixed"] = _ingest(stack, baseline=False, returning=RETURNING_SHARE)
            _drain_queues(stack)
        for mix, hook in hooks.items():
            _report_ingest(mix, hook, base)
        for first_seq, (mix, hook) in enumerate(hooks.items(), start=3):
            rate = E2E_RATE or (hook["throughput"] or hook["accepted"]) / 2
            e2e = asyncio.run(
                end_to_end(stack, rate=rate, seconds=E2E_SECONDS, first_seq=first_seq * 10**6, returning=MIXES[mix][0])
            )
            _report_end_to_end(mix, e2e, rate)
            _drain_queues(stack)
        peak_web = max(memory_kb(pid, "VmHWM") for name in ("web.1", "web.2") for pid in stack.pids(name))
        peak_worker = max(memory_kb(pid, "VmHWM") for pid in stack.pids("worker.1"))
        worker_tree = sum(memory_kb(pid, "VmHWM") for pid in stack.pids("worker.1"))
        report(
            Figure(
                "memory.daphne peak RSS",
                peak_web / 1024,
                "MB",
                idle["web.1"] / 1024,
                "idle after start",
                ok=None,
            )
        )
        report(
            Figure(
                "memory.worker peak RSS (largest process)",
                peak_worker / 1024,
                "MB",
                idle["worker.1"] / 1024,
                "idle after start",
                ok=None,
                note=f"main + pool {worker_tree / 1024:.0f} MB vs {idle_tree / 1024:.0f} MB idle",
            )
        )
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--listen"]:
        import django

        django.setup()
        asyncio.run(_listen(sys.argv[2].split(","), [int(pk) for pk in sys.argv[3].split(",")]))
        sys.exit(0)
    sys.exit(main())
