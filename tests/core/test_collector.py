"""What a server process loads at start is kept out of the garbage collector's full passes (core/collector.py)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from typing import Any

import pytest
from celery.signals import beat_init, worker_process_init, worker_ready

from core import collector


def _frozen_after_importing_the_asgi_application(**env: str) -> int:
    code = "import gc, inbox_project.asgi; print(gc.get_freeze_count())"
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "inbox_project.settings", **env}
    done = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return int(done.stdout.strip().splitlines()[-1])


def test_a_web_server_freezes_what_it_loaded_once_its_application_is_built() -> None:
    assert _frozen_after_importing_the_asgi_application(GC_FREEZE_AT_START="true") > 50_000
    assert _frozen_after_importing_the_asgi_application(GC_FREEZE_AT_START="false") == 0


def test_settle_loads_the_views_collects_and_freezes(settings: Any) -> None:
    settings.GC_FREEZE_AT_START = True
    loaded_before = object()
    holder = [loaded_before]
    try:
        frozen = collector.settle()
        assert frozen == gc.get_freeze_count() > 0
        # Frozen objects are no longer in any generation the collector walks.
        assert not any(o is holder for o in gc.get_objects())
        made_after = [object()]
        assert any(o is made_after for o in gc.get_objects())
    finally:
        gc.unfreeze()


def test_settle_does_nothing_when_switched_off(settings: Any) -> None:
    settings.GC_FREEZE_AT_START = False
    assert collector.settle() == 0
    assert gc.get_freeze_count() == 0


@pytest.mark.parametrize("signal", [worker_process_init, worker_ready, beat_init], ids=lambda s: s.name)
def test_every_celery_process_settles_once_started(signal: Any, monkeypatch: Any) -> None:
    calls: list[int] = []

    def settle() -> int:
        calls.append(1)
        return 0

    monkeypatch.setattr(collector, "settle", settle)
    monkeypatch.setattr("routing.assistant.classifier.models", lambda: None)
    signal.send(sender=None)
    assert calls == [1]
