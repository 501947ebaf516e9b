"""What every benchmark shares: which databases, Django set up on one of them, timing, the result line.

Each benchmark prints one line per figure::

    inbox_list.open_views p95: 12.3 ms  baseline 10.1 ms  ratio 1.22  target ratio <= 1.5 and < 50 ms  OK

The baseline is always measured in the same run on the same machine (the small data set, or a
bare Django view served the same way), because shared machines are noisy; the ratio is what the
targets are about. A figure that cannot be measured prints ``SKIP`` with the reason.
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
SERVER = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
LARGE_DB = os.environ.get("BENCH_DATABASE", "inbox_bench")
SMALL_DB = os.environ.get("BENCH_SMALL_DATABASE", "inbox_bench_10k")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
SECRET_KEY = "bench-only-secret-key-" + "q" * 40


def database_url(name: str) -> str:
    return f"{SERVER.rstrip('/')}/{name}"


def bench_env(database: str, **extra: str) -> dict[str, str]:
    """The environment of a production-mode process on ``database`` (nothing inherited that would point elsewhere)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "DATABASE_", "REDIS_"))}
    env.update(
        DATABASE_URL=database_url(database),
        SECRET_KEY=SECRET_KEY,
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="inbox_project.settings",
    )
    env.update(extra)
    return env


def setup_django(database: str, **extra: str) -> None:
    """Configure this process for ``database`` and set Django up (call before importing models)."""
    os.environ.update(bench_env(database, **extra))
    for key in ("REDIS_URL",):
        if key not in extra:
            os.environ.pop(key, None)
    import django

    django.setup()


def database_exists(name: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(database_url("postgres"), connect_timeout=3) as conn:
            row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    except psycopg.OperationalError:
        return False
    return row is not None


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank; samples need not be sorted."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def timed(function: Callable[[], Any], *, repeat: int, warmup: int = 2) -> list[float]:
    """Milliseconds of each of ``repeat`` calls, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


@dataclasses.dataclass
class Figure:
    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_label: str = ""
    target: str = ""
    ok: bool | None = None  # None: informational, no target
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.baseline:
            return None
        return self.value / self.baseline

    def line(self) -> str:
        parts = [f"{self.name}: {_fmt(self.value, self.unit)}"]
        if self.baseline is not None:
            label = f" ({self.baseline_label})" if self.baseline_label else ""
            parts.append(f"baseline{label} {_fmt(self.baseline, self.unit)}")
        if self.ratio is not None:
            parts.append(f"ratio {self.ratio:.2f}")
        if self.target:
            parts.append(f"target {self.target}")
        parts.append({True: "OK", False: "MISS", None: "INFO"}[self.ok])
        if self.note:
            parts.append(f"({self.note})")
        return "  ".join(parts)


def _fmt(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "req/s":
        return f"{value:.0f} req/s"
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value:g} {unit}".strip()


def skip(name: str, reason: str) -> None:
    print(f"{name}: SKIP ({reason})", flush=True)


def report(figure: Figure) -> Figure:
    print(figure.line(), flush=True)
    return figure


def run_child(module: str, *args: str, env: dict[str, str] | None = None, timeout: float = 1800) -> Any:
    """Run ``python -m module args`` and return the JSON it prints on its last line."""
    result = subprocess.run(
        [PYTHON, "-m", module, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples) if samples else float("nan")
