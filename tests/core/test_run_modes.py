"""The two ways to run, as real processes: embedded (one process) and production (the Procfile).

Each test starts the product the way a person would, talks to it over HTTP and websockets
like a browser, and shows that tasks enqueued by the web side run in a worker, that beat's
timer fires, and that a live event sent by the worker reaches an agent's websocket.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from conversations.event_schema import EVENT_SCHEMAS
from conversations.realtime import user_group
from core.models import WorkerHeartbeat

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STARTUP_SECONDS = 60.0
TASK_SECONDS = 30.0
STOP_SECONDS = 20.0
PASSWORD = "run-modes-" + "x7Q" * 4
# Set in every child's environment, so whatever they start can be found (and killed) at the end.
MARKER_VAR = "INBOX_RUN_MODES_TEST"

# Everything that would make a child production, or point it at the test run's own database.
_INHERITED_CONFIG = (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "PUBLIC_BASE_URL",
    "CSRF_TRUSTED_ORIGINS",
    "SQLITE_PATH",
    "INBOX_VAR_DIR",
    "MEDIA_ROOT",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "DJANGO_SETTINGS_MODULE",
    "PORT",
)


# --- Processes ----------------------------------------------------------------------------------


def _listening_ports() -> range:
    """Ports for the servers tests start: below the kernel's ephemeral range, so that no outgoing
    connection (to PostgreSQL, Redis, another test's server) takes one between the choice and the
    server's bind, as happened to honcho's second web server in CI."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return range(20000, max(low, 21000))


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(consecutive: int = 1) -> int:
    """A port p with p .. p + consecutive - 1 free now, chosen at random outside the ephemeral range."""
    ports = _listening_ports()
    for _ in range(200):
        port = random.randrange(ports.start, ports.stop - consecutive)
        if all(_bindable(port + offset) for offset in range(consecutive)):
            return port
    raise RuntimeError(f"no {consecutive} consecutive free ports in {ports}")


def free_port_pair() -> int:
    """A port p with p and p + 1 both free (honcho numbers web.1 and web.2 that way)."""
    return free_port(consecutive=2)


def child_env(marker: str, **settings: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _INHERITED_CONFIG}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="INFO",
        **{MARKER_VAR: marker},
    )
    env.update(settings)
    return env


def manage(env: dict[str, str], *args: str, extra_env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**env, **(extra_env or {})},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


class Child:
    """A started process (group) whose output goes to a file, for reading on failure."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=self._log_file, stderr=subprocess.STDOUT, start_new_session=True
        )

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text(errors="replace")

    def fail(self, message: str) -> None:
        pytest.fail(f"{message}\n--- output of {self.process.args!r} ---\n{self.output()[-20000:]}")

    def signal(self, signum: int) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signum)

    def wait(self, timeout: float) -> int | None:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.wait(STOP_SECONDS)
        self._log_file.close()


def processes_with_marker(marker: str) -> list[int]:
    """Every live process whose environment carries this test's marker (zombies have none)."""
    needle = f"{MARKER_VAR}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def kill_leftovers(marker: str) -> list[int]:
    leftovers = processes_with_marker(marker)
    for pid in leftovers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return leftovers


def wait_until(what: str, check: Callable[[], Any], child: Child, timeout: float = TASK_SECONDS) -> Any:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if child.process.poll() is not None:
            child.fail(f"exited with {child.process.returncode} while waiting for {what}")
        try:
            value = check()
        except (requests.RequestException, OSError) as exc:
            last_error = exc
        else:
            if value:
                return value
        time.sleep(0.1)
    child.fail(f"timed out after {timeout:.0f} s waiting for {what} (last error: {last_error!r})")


def http_ok(url: str) -> Callable[[], bool]:
    return lambda: requests.get(url, timeout=5).status_code == 200


# --- A browser --------------------------------------------------------------------------------------


class Browser:
    def __init__(self) -> None:
        self.session = requests.Session()

    def _request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        response = self.session.request(method, url, timeout=10, **kwargs)
        # Browsers treat http://127.0.0.1 as a secure context and send Secure cookies there;
        # requests doesn't, so (this browser only ever talks to loopback) it forgets the flag.
        for cookie in self.session.cookies:
            cookie.secure = False
        return response

    def log_in(self, base: str, username: str, password: str) -> None:
        login_url = f"{base}/admin/login/"
        page = self._request("GET", login_url)
        assert page.status_code == 200
        response = self._request(
            "POST",
            login_url,
            data={
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": self.session.cookies["csrftoken"],
                "next": "/admin/",
            },
            headers={"Referer": login_url},
            allow_redirects=False,
        )
        assert response.status_code == 302, f"admin login failed: {response.status_code} {response.text[:2000]}"
        assert "sessionid" in self.session.cookies

    def post(self, url: str) -> requests.Response:
        return self._request("POST", url, headers={"X-CSRFToken": self.session.cookies["csrftoken"]})

    def get_json(self, url: str) -> Any:
        response = self._request("GET", url)
        assert response.status_code == 200, f"GET {url}: {response.status_code} {response.text[:2000]}"
        return response.json()

    def websocket(self, base: str) -> ClientConnection:
        cookies = "; ".join(f"{cookie.name}={cookie.value}" for cookie in self.session.cookies)
        return connect(
            base.replace("http://", "ws://") + "/ws/agent/",
            origin=Origin(base),
            additional_headers={"Cookie": cookies},
            open_timeout=10,
        )


def receive_until(ws: ClientConnection, match: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    seen: list[dict[str, Any]] = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame = json.loads(ws.recv(timeout=left))
        except TimeoutError:
            break
        if match(frame):
            return frame
        seen.append(frame)
    raise AssertionError(f"no matching frame within {timeout:.0f} s; frames seen: {seen}")


def ping_worker(browser: Browser, post_to: str, poll_at: str, child: Child) -> str:
    """POST /ops/worker-ping/ and wait until the worker wrote its row; returns the ping's name."""
    response = browser.post(f"{post_to}/ops/worker-ping/")
    assert response.status_code == 202, response.text[:2000]
    name = response.json()["queued"]
    wait_until(
        f"the worker to run ping {name}",
        lambda: browser.get_json(f"{poll_at}/ops/worker-ping/{name}/")["done"],
        child,
    )
    return name


def is_pong(name: str) -> Callable[[dict[str, Any]], bool]:
    return lambda frame: frame.get("type") == "worker.pong" and frame.get("name") == name


def heartbeat_seen(base: str) -> Callable[[], bool]:
    return lambda: requests.get(f"{base}/healthz/", timeout=5).json()["worker_last_seen"] is not None


# --- Embedded mode ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedded_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str], float]]:
    """A fresh embedded installation: migrated SQLite and a supervisor, in a directory of its own."""
    var_dir = tmp_path_factory.mktemp("embedded")
    marker = uuid.uuid4().hex
    env = child_env(marker, INBOX_VAR_DIR=str(var_dir), HEARTBEAT_INTERVAL_SECONDS="1")
    started = time.monotonic()
    manage(env, "migrate", "--noinput")
    migrate_seconds = time.monotonic() - started
    manage(
        env,
        "createsuperuser",
        "--noinput",
        "--username",
        "sam",
        "--email",
        "sam@example.com",
        extra_env={"DJANGO_SUPERUSER_PASSWORD": PASSWORD},
    )
    yield var_dir, env, migrate_seconds
    assert kill_leftovers(marker) == [], "processes were left running"


@contextlib.contextmanager
def run_embedded(var_dir: Path, env: dict[str, str], port: int, log_name: str) -> Iterator[Child]:
    child = Child([sys.executable, "manage.py", "run_embedded", "--port", str(port)], env, var_dir / log_name)
    try:
        yield child
    finally:
        child.kill_group()


@pytest.mark.slow
def test_embedded_mode_serves_runs_tasks_and_timers_in_one_process(
    embedded_home: tuple[Path, dict[str, str], float], record_property: Callable[[str, object], None]
) -> None:
    var_dir, env, migrate_seconds = embedded_home
    assert "DATABASE_URL" not in env and "REDIS_URL" not in env  # no PostgreSQL, no Redis
    (var_dir / "demo-logins.txt").write_text("supervisor  sam / (the password you chose)\n")
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    started = time.monotonic()
    with run_embedded(var_dir, env, port, "run_embedded.log") as child:
        wait_until("/admin/login/ to answer", http_ok(f"{base}/admin/login/"), child, STARTUP_SECONDS)
        ready_seconds = time.monotonic() - started
        record_property("migrate_seconds", round(migrate_seconds, 2))
        record_property("run_embedded_ready_seconds", round(ready_seconds, 2))
        print(f"\nembedded: migrate {migrate_seconds:.2f} s, run_embedded until /admin/login/ {ready_seconds:.2f} s")
        banner = child.output()
        assert f"{base}/admin/" in banner
        assert "supervisor  sam / (the password you chose)" in banner

        browser = Browser()
        browser.log_in(base, "sam", PASSWORD)
        with browser.websocket(base) as ws:
            hello = json.loads(ws.recv(timeout=10))
            assert hello["type"] == "hello"

            # A task enqueued by a request runs in the in-process worker and writes its row ...
            name = ping_worker(browser, base, base, child)
            # ... and its live event, sent from the worker's thread, reaches the server's socket.
            pong = receive_until(ws, is_pong(name), timeout=10)
            assert pong["hostname"]

        wait_until("beat's heartbeat in /healthz/", heartbeat_seen(base), child)

        stopping = time.monotonic()
        child.signal(signal.SIGTERM)
        returncode = child.wait(STOP_SECONDS)
        if returncode is None:
            child.fail(f"still running {STOP_SECONDS:.0f} s after SIGTERM")
        stop_seconds = time.monotonic() - stopping
        record_property("run_embedded_stop_seconds", round(stop_seconds, 2))
        print(f"embedded: stopped {stop_seconds:.2f} s after SIGTERM")
        assert returncode == 0, child.output()
        assert "Stopped." in child.output()
        assert "Traceback" not in child.output(), child.output()

    # The web side and the worker shared one SQLite file, in WAL mode.
    with contextlib.closing(sqlite3.connect(var_dir / "inbox.sqlite3")) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.slow
def test_embedded_mode_stops_quickly_on_ctrl_c(embedded_home: tuple[Path, dict[str, str], float]) -> None:
    var_dir, env, _ = embedded_home
    port = free_port()
    with run_embedded(var_dir, env, port, "run_embedded_ctrl_c.log") as child:
        wait_until("/admin/login/ to answer", http_ok(f"http://127.0.0.1:{port}/admin/login/"), child, STARTUP_SECONDS)
        stopping = time.monotonic()
        child.signal(signal.SIGINT)
        returncode = child.wait(STOP_SECONDS)
        if returncode is None:
            child.fail(f"still running {STOP_SECONDS:.0f} s after Ctrl-C")
        assert returncode == 0, child.output()
        assert time.monotonic() - stopping < 10, "Ctrl-C took too long"
        assert "Traceback" not in child.output(), child.output()


@pytest.mark.slow
@pytest.mark.parametrize(
    "variable,value",
    [("REDIS_URL", "redis://127.0.0.1:1/0"), ("DATABASE_URL", "postgres://nobody@127.0.0.1:1/nothing")],
)
def test_run_embedded_refuses_production_configuration(variable: str, value: str) -> None:
    env = child_env(uuid.uuid4().hex, SECRET_KEY=secrets.token_urlsafe(50), **{variable: value})
    result = subprocess.run(
        [sys.executable, "manage.py", "run_embedded", "--port", str(free_port())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert f"{variable} set: that is production mode" in result.stderr
    assert "Procfile" in result.stderr


# --- Production mode ------------------------------------------------------------------------------


def _database_url(admin_url: str, name: str) -> str:
    parts = urlsplit(admin_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextlib.contextmanager
def fresh_postgres_database() -> Iterator[str]:
    import psycopg
    from psycopg import sql

    server_url = os.environ.get("TEST_POSTGRES_URL") or os.environ["DATABASE_URL"]
    admin_url = _database_url(server_url, "postgres")
    name = f"inbox_run_modes_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _database_url(server_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextlib.contextmanager
def flushed_redis() -> Iterator[str]:
    import redis

    url = os.environ["TEST_REDIS_URL"]
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


@contextlib.contextmanager
def honcho_start(env: dict[str, str], base_port: int, log: Path, marker: str) -> Iterator[Child]:
    child = Child(
        [
            str(BIN / "honcho"),
            "start",
            "-f",
            str(ROOT / "Procfile"),
            "-d",
            str(ROOT),
            "-p",
            str(base_port),
            "-c",
            "web=2",
        ],
        env,
        log,
    )
    try:
        yield child
    finally:
        # honcho forwards SIGTERM to every Procfile process (each in a session of its own,
        # so a killpg of honcho's group alone would miss them), then we make sure.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.process.pid, signal.SIGTERM)
        child.wait(STOP_SECONDS)
        child.kill_group()
        deadline = time.monotonic() + 10
        while processes_with_marker(marker) and time.monotonic() < deadline:
            time.sleep(0.2)
        leftovers = kill_leftovers(marker)
        assert leftovers == [], f"processes left running after honcho stopped: {leftovers}\n{child.output()[-5000:]}"


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.redis
def test_production_mode_runs_the_procfile_as_separate_processes(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    marker = uuid.uuid4().hex
    base_port = free_port_pair()
    web1, web2 = f"http://127.0.0.1:{base_port}", f"http://127.0.0.1:{base_port + 1}"
    with fresh_postgres_database() as database_url, flushed_redis() as redis_url:
        env = child_env(
            marker,
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            SECRET_KEY=secrets.token_urlsafe(50),
            DEBUG="false",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            PUBLIC_BASE_URL=web1,
            SECURE_SSL_REDIRECT="false",
            SESSION_COOKIE_SECURE="false",
            CSRF_COOKIE_SECURE="false",
            HEARTBEAT_INTERVAL_SECONDS="1",
            INBOX_VAR_DIR=str(tmp_path),
        )
        manage(env, "migrate", "--noinput")
        manage(
            env,
            "createsuperuser",
            "--noinput",
            "--username",
            "sam",
            "--email",
            "sam@example.com",
            extra_env={"DJANGO_SUPERUSER_PASSWORD": PASSWORD},
        )

        started = time.monotonic()
        with honcho_start(env, base_port, tmp_path / "honcho.log", marker) as honcho:
            for base in (web1, web2):
                wait_until(f"{base}/admin/login/ to answer", http_ok(f"{base}/admin/login/"), honcho, STARTUP_SECONDS)
            record_property("honcho_ready_seconds", round(time.monotonic() - started, 2))

            browser = Browser()
            browser.log_in(web1, "sam", PASSWORD)  # the session lives in PostgreSQL: both servers know it
            with browser.websocket(web1) as ws1, browser.websocket(web2) as ws2:
                assert json.loads(ws1.recv(timeout=10))["type"] == "hello"
                assert json.loads(ws2.recv(timeout=10))["type"] == "hello"

                # Asked of web server 2, run by a worker process, written where web server 1 reads it,
                # and announced through Redis to the sockets held by both web servers.
                name = ping_worker(browser, post_to=web2, poll_at=web1, child=honcho)
                assert receive_until(ws1, is_pong(name), timeout=10)["name"] == name
                assert receive_until(ws2, is_pong(name), timeout=10)["name"] == name

            wait_until("beat's heartbeat in /healthz/", heartbeat_seen(web2), honcho)
            output = honcho.output()
            for process in ("web.1", "web.2", "worker.1", "inbound.1", "beat.1"):
                assert f"{process} started" in output, output


# --- The ping's live event, in-process ---------------------------------------------------------------


@pytest.mark.skipif("worker.pong" not in EVENT_SCHEMAS, reason="the worker.pong event has no schema yet")
def test_worker_ping_writes_its_row_and_tells_the_supervisors_socket(
    client: Any, supervisor: Any, live_events: Any, committed: Any
) -> None:
    client.force_login(supervisor)
    with committed():
        response = client.post("/ops/worker-ping/")
    name = response.json()["queued"]

    assert WorkerHeartbeat.objects.filter(name=name).exists()
    assert live_events.of_type("worker.pong") == [
        {"type": "worker.pong", "name": name, "hostname": socket.gethostname()}
    ]
    assert live_events.groups_of("worker.pong") == [[user_group(supervisor.pk)]]
