"""Shared fixtures: the Healthchecks-style access trio, live-event capture, real-service gates."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import pytest
from celery._state import _set_task_join_will_block
from django.conf import settings

from conversations import realtime
from conversations.event_schema import validate_event
from inbox_project.celery import app as celery_app
from tests import factories as f

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "") in ("1", "true", "yes")


def _redis_db_per_worker() -> None:
    """Under pytest-xdist each worker gets its own Redis database (as pytest-django gives each its own
    PostgreSQL database), so one worker's flush or channel-layer traffic never reaches another's tests."""
    url, worker = os.environ.get("TEST_REDIS_URL"), os.environ.get("PYTEST_XDIST_WORKER", "")
    if not url or not worker.startswith("gw"):
        return
    base, _, db = url.rpartition("/")
    number = int(db) if db.isdigit() else 15
    os.environ["TEST_REDIS_URL"] = f"{base}/{(number - int(worker[2:])) % 16}"


_redis_db_per_worker()

# Importing the ASGI application freezes what is loaded out of the garbage collector (core/collector.py);
# a test process is no server, and frozen objects would never be collected for the rest of the run.
settings.GC_FREEZE_AT_START = False


def _gate(marker: str, available: bool, what: str) -> None:
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required (REQUIRE_SERVICES=1) but not available")
    pytest.skip(f"needs {what}")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("postgres"):
        _gate("postgres", settings.IS_POSTGRES, "PostgreSQL (DATABASE_URL)")
    if item.get_closest_marker("redis"):
        _gate("redis", bool(os.environ.get("TEST_REDIS_URL")), "Redis (TEST_REDIS_URL)")


@pytest.fixture(autouse=True)
def _test_settings(settings: Any, tmp_path: Any) -> None:
    settings.VALIDATE_LIVE_EVENTS = True
    settings.ASSISTANT_AUTORUN = False
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _celery_eager() -> Iterator[None]:
    # An eager task marks the whole process "joining would block" while it runs and puts back what it
    # found: two threads running eager tasks at once (the concurrency tests) can leave the flag set
    # for good, and every later `.get()` in that worker then fails. Each test starts from a clean flag.
    _set_task_join_will_block(False)
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = False


# --- Access trio ------------------------------------------------------------------------------


@pytest.fixture
def team(db: Any) -> Any:
    return f.TeamFactory(name="Support")


@pytest.fixture
def agent(db: Any, team: Any) -> Any:
    user = f.AgentFactory(username="alice", first_name="Alice", last_name="Agent")
    user.agent_profile.teams.add(team)
    return user


@pytest.fixture
def teammate(db: Any, team: Any) -> Any:
    user = f.AgentFactory(username="bob", first_name="Bob", last_name="Teammate")
    user.agent_profile.teams.add(team)
    return user


@pytest.fixture
def outsider(db: Any) -> Any:
    """An agent of another inbox, who must see nothing of the agent's inbox."""
    user = f.AgentFactory(username="mallory", first_name="Mallory", last_name="Outsider")
    f.InboxFactory(name="Other inbox", members=[user])
    return user


@pytest.fixture
def supervisor(db: Any) -> Any:
    return f.SupervisorFactory(username="sam", first_name="Sam", last_name="Supervisor")


@pytest.fixture
def inbox(db: Any, agent: Any, teammate: Any, team: Any) -> Any:
    return f.InboxFactory(name="Website chat", kind="webchat", members=[agent, teammate], default_team=team)


@pytest.fixture
def sms_inbox(db: Any, agent: Any, teammate: Any, team: Any) -> Any:
    return f.InboxFactory(name="SMS line", kind="sms", members=[agent, teammate], default_team=team)


@pytest.fixture
def conversation(db: Any, inbox: Any) -> Any:
    contact = f.ContactFactory(name="Carol Customer")
    return f.ConversationFactory(inbox=inbox, contact=contact)


# --- Live events ------------------------------------------------------------------------------


class LiveEvents:
    """Every event the gateway delivers, with its groups; each is checked against its schema."""

    def __init__(self) -> None:
        self.sent: list[tuple[dict[str, Any], list[str]]] = []

    def record(self, event: dict[str, Any], groups: list[str]) -> None:
        validate_event(event)
        self.sent.append((event, list(groups)))

    @property
    def types(self) -> list[str]:
        return [event["type"] for event, _ in self.sent]

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [event for event, _ in self.sent if event["type"] == type_]

    def groups_of(self, type_: str) -> list[list[str]]:
        return [groups for event, groups in self.sent if event["type"] == type_]

    def record_all(self, events: list[tuple[dict[str, Any], list[str]]]) -> None:
        for event, groups in events:
            self.record(event, groups)

    def clear(self) -> None:
        self.sent.clear()


@pytest.fixture
def live_events(monkeypatch: pytest.MonkeyPatch) -> LiveEvents:
    events = LiveEvents()
    monkeypatch.setattr(realtime, "_deliver_all", events.record_all)
    return events


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Any) -> Any:
    """``with committed():`` runs what the block queued for after commit, as a real commit would."""

    @contextlib.contextmanager
    def _run() -> Iterator[None]:
        with django_capture_on_commit_callbacks(execute=True):
            yield

    return _run
