"""Embedded mode: the web server, the Celery worker and beat in one process.

Who runs where:

- The main thread runs daphne's Twisted reactor (HTTP and websockets). It has to be the
  main thread: only there can Twisted install the SIGINT and SIGTERM handlers that turn
  Ctrl-C into an orderly stop, and the reactor's asyncio loop becomes the home loop of
  ``core.channel_layer.EmbeddedChannelLayer``, which every other thread hands its
  broadcasts to.
- A thread runs Celery's worker (a plain ``WorkController``: it installs no signal
  handlers) with the "threads" pool, consuming the "inbound" and "default" queues of the
  in-memory broker that the web side publishes to. Celery's Django fixup closes each pool
  thread's database connection before and after every task.
- A thread runs beat (``celery.beat.EmbeddedService(thread=True)``: the default one is a
  separate process, which would not share the in-memory broker), its schedule kept in
  ``VAR_DIR`` so a daily timer missed while the process was down still runs on restart.

Stopping: when the reactor returns (Ctrl-C, SIGTERM, or a dead worker or beat thread), beat
is told to stop, the worker finishes the tasks it is running (a warm shutdown, bounded by
``WORKER_GRACE_SECONDS``), and the process exits. A second Ctrl-C exits at once.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from celery import Celery, signals
from celery.beat import EmbeddedService
from celery.worker import state as worker_state
from channels.routing import get_default_application
from daphne.access import AccessLogGenerator
from daphne.endpoints import build_endpoint_description_strings
from daphne.server import Server
from django.conf import settings
from django.db import connections
from twisted.internet import reactor, task

logger = logging.getLogger(__name__)

QUEUES = ("inbound", "default")  # inbound first: customers' messages go before the rest
WORKER_READY_TIMEOUT_SECONDS = 30.0
WORKER_GRACE_SECONDS = 10.0
BEAT_STOP_SECONDS = 5.0
# How often the in-process worker looks at the in-memory queues (kombu's default is 1 s).
BROKER_POLLING_INTERVAL_SECONDS = 0.1
# The longest the worker's consumer loop waits on the broker before it checks whether it
# should stop (Celery's loop waits 2 s, twice on the way out, which made Ctrl-C slow).
CONSUMER_DRAIN_SECONDS = 0.25
# Per-task chatter at INFO (received, succeeded, beat's "sending due task") is hidden
# unless asked for with -v 2; failures are logged at ERROR and always show.
CHATTY_LOGGERS = ("celery.worker.strategy", "celery.app.trace", "celery.beat")


class EmbeddedModeError(Exception):
    """Embedded mode cannot start (production configuration, or a broken start)."""


@dataclass
class Outcome:
    exit_code: int
    # False when a task still ran after the grace period: the caller must exit hard,
    # because the interpreter would otherwise wait for that thread forever.
    clean: bool = True


def check_embedded_configuration() -> None:
    """Refuse production configuration: there the processes are separate (the Procfile)."""
    configured = [name for name in ("DATABASE_URL", "REDIS_URL") if getattr(settings, name, "")]
    if configured or not settings.EMBEDDED:
        raise EmbeddedModeError(
            f"{' and '.join(configured) or 'DATABASE_URL or REDIS_URL'} set: that is production mode, "
            "which runs web servers, workers and beat as separate processes. "
            "Start them with the Procfile (honcho start), or unset the variables to run embedded."
        )
    if not settings.CELERY_BROKER_URL.startswith("memory://"):
        raise EmbeddedModeError(f"embedded mode needs the memory:// broker, not {settings.CELERY_BROKER_URL!r}")
    backend = settings.CHANNEL_LAYERS["default"]["BACKEND"]
    if backend != "core.channel_layer.EmbeddedChannelLayer":
        raise EmbeddedModeError(f"embedded mode needs core.channel_layer.EmbeddedChannelLayer, not {backend}")


class WorkerThread(threading.Thread):
    """Celery's worker, consuming the in-memory broker from a thread of this process."""

    def __init__(self, app: Celery, *, concurrency: int) -> None:
        super().__init__(name="celery-worker", daemon=True)
        self.ready = threading.Event()
        self.failure: BaseException | None = None
        self.controller: Any = app.WorkController(
            app=app,
            hostname="embedded@%h",
            pool="threads",
            concurrency=concurrency,
            queues=list(QUEUES),
            # No other workers to sync with, and no broker heartbeats to send in memory.
            without_mingle=True,
            without_gossip=True,
            without_heartbeat=True,
            ready_callback=self._on_consumer_ready,
        )

    def _on_consumer_ready(self, consumer: Any) -> None:
        """Runs in the worker thread just before its consumer loop starts."""
        transport = getattr(getattr(consumer, "connection", None), "transport", None)
        drain = getattr(transport, "drain_events", None)
        if transport is not None and drain is not None:

            def drain_briefly(connection: Any, timeout: float | None = None, **kwargs: Any) -> Any:
                if timeout is not None:
                    timeout = min(timeout, CONSUMER_DRAIN_SECONDS)
                return drain(connection, timeout=timeout, **kwargs)

            # Only this process's in-memory transport instance changes: producers are untouched.
            transport.drain_events = drain_briefly
        # What `celery worker` sends here too, so code that listens behaves the same in both modes.
        signals.worker_ready.send(sender=consumer)
        self.ready.set()

    def run(self) -> None:
        try:
            self.controller.start()
        except BaseException as exc:  # the thread's last word: keep it for the main thread
            self.failure = exc
            raise
        finally:
            worker_state.should_stop = None

    def request_stop(self) -> None:
        # The same flag Celery's own signal handlers set: the consumer loop sees it within a
        # drain cycle (CONSUMER_DRAIN_SECONDS), then the worker stops in its own thread, warm.
        worker_state.should_stop = 0


def _schedule_file() -> Path:
    var_dir = Path(settings.VAR_DIR)
    var_dir.mkdir(parents=True, exist_ok=True)
    return var_dir / "celerybeat-schedule"


def _force_exit_on_second_signal() -> None:
    def force(signum: int, frame: FrameType | None) -> None:
        sys.stderr.write("\nForced exit.\n")
        sys.stderr.flush()
        os._exit(1)

    signal.signal(signal.SIGINT, force)
    signal.signal(signal.SIGTERM, force)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def serve(
    app: Celery,
    *,
    host: str,
    port: int,
    concurrency: int,
    on_ready: Callable[[str, int], None],
    verbosity: int = 1,
) -> Outcome:
    """Run everything until Ctrl-C or SIGTERM. ``on_ready(host, port)`` runs once listening."""
    check_embedded_configuration()
    if verbosity < 2:
        for name in CHATTY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
    # Until the reactor takes the signals over, SIGTERM stops the start like Ctrl-C does.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    app.conf.worker_enable_remote_control = False  # nobody can reach an in-memory broker
    app.conf.broker_transport_options = {
        **(app.conf.broker_transport_options or {}),
        "polling_interval": BROKER_POLLING_INTERVAL_SECONDS,
    }
    connections.close_all()  # the main thread becomes the reactor's: it keeps no connection

    worker: WorkerThread | None = None
    beat: Any = None
    exit_code = 0
    try:
        worker = WorkerThread(app, concurrency=concurrency)
        worker.start()
        if not _wait_until_ready(worker):
            raise EmbeddedModeError(f"the Celery worker did not start ({worker.failure or 'see the log above'})")
        beat = EmbeddedService(app, thread=True, schedule_filename=str(_schedule_file()))
        beat.start()
        exit_code = _run_web_server(host=host, port=port, on_ready=on_ready, verbosity=verbosity, watch=(worker, beat))
    except KeyboardInterrupt:
        pass
    finally:
        _force_exit_on_second_signal()
        clean = _stop(worker, beat)
    return Outcome(exit_code=exit_code, clean=clean)


def _wait_until_ready(worker: WorkerThread) -> bool:
    waited = 0.0
    while waited < WORKER_READY_TIMEOUT_SECONDS:
        if worker.ready.wait(0.1):
            return True
        if not worker.is_alive():
            return False
        waited += 0.1
    return False


def _run_web_server(
    *,
    host: str,
    port: int,
    on_ready: Callable[[str, int], None],
    verbosity: int,
    watch: tuple[threading.Thread, ...],
) -> int:
    """Daphne on this (the main) thread, until a signal stops the reactor. Returns the exit code."""
    exit_code = 0

    def announce() -> None:
        # With --port 0 the system picked the port: announce the real one.
        bound_port = server.listening_addresses[0][1] if server.listening_addresses else port
        on_ready(host, bound_port)

    def check_threads() -> None:
        nonlocal exit_code
        dead = [thread.name for thread in watch if not thread.is_alive()]
        if dead:
            # Serving pages while timers and tasks silently stopped would hide the failure.
            logger.error("%s stopped unexpectedly; shutting down", " and ".join(dead))
            exit_code = 1
            server.stop()

    server = Server(
        application=get_default_application(),
        endpoints=build_endpoint_description_strings(host=host, port=port),
        signal_handlers=True,
        action_logger=AccessLogGenerator(sys.stdout) if verbosity >= 2 else None,
        verbosity=verbosity,
        ready_callable=announce,
    )
    watchdog = task.LoopingCall(check_threads)
    reactor.callWhenRunning(watchdog.start, 1.0, now=False)
    server.run()
    if not server.listening_addresses:
        raise EmbeddedModeError(f"could not listen on {host}:{port} (see the message above)")
    return exit_code


def _stop(worker: WorkerThread | None, beat: Any) -> bool:
    """Stop beat and the worker together; True when everything stopped within its bound."""
    worker_running = worker is not None and worker.is_alive()
    if worker is not None and worker_running:
        worker.request_stop()
    if beat is not None:
        beat.service.stop()  # beat ticks at least every second and notices
    if worker_running and worker_state.active_requests:
        logger.warning(
            "Waiting up to %.0f s for %d running task(s) to finish (Ctrl-C again to quit now)",
            WORKER_GRACE_SECONDS,
            len(worker_state.active_requests),
        )
    if beat is not None:
        beat.join(BEAT_STOP_SECONDS)
    if worker is None or not worker_running:
        return True
    worker.join(WORKER_GRACE_SECONDS)
    if worker.is_alive():
        logger.warning("Tasks still running after %.0f s; exiting without them", WORKER_GRACE_SECONDS)
        return False
    return True
