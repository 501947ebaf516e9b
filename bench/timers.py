"""Timers: an empty sweep at 10k conversations (baseline) and at 1M (figure).

One sweep is what beat runs: ``run_status_timers()`` (idle active -> pending, resolved ->
archived, snoozes end) and ``run_sla_timers()`` (SLA warnings and breaches). The data sets were
made as if the timers had been running, so after one warm-up pass (which moves whatever fell due
since the data was made) a sweep finds nothing to do: its cost is the cost of finding nothing,
which must not grow with the table (target: ratio <= 1.2).

An empty sweep takes a few milliseconds, most of it Python building the queries; its database
part is the same at 10k and 1M (microseconds on partial indexes). So the ratio is easily drowned
by the machine's noise, and two things keep it meaning what it says:

- the data ages while it is measured: at 1M, active conversations fall due between two sweeps, so
  a sweep meant to be empty moved a few of them. Each process stops its clock (time-machine; the
  timings use ``perf_counter``, which it leaves alone) at its warm-up pass, so every timed sweep is
  empty, and each one is checked;
- the machine's load drifts: one process per data set, both started before timing, and the sweeps
  alternate between them one by one (10k, 1M, 10k, 1M, ...), so a busy spell falls on both.

    python -m bench.timers
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import IO, Any

from bench.common import (
    LARGE_DB,
    PYTHON,
    ROOT,
    SMALL_DB,
    Figure,
    bench_env,
    database_exists,
    median,
    percentile,
    report,
    setup_django,
    skip,
)

REPEAT = 60
RATIO = 1.2


def serve(database: str) -> None:
    """Child: warm up, then time one sweep per line read from stdin, printing its milliseconds."""
    setup_django(database)
    import time_machine
    from django.utils import timezone

    from conversations.models import Conversation
    from conversations.sla import run_sla_timers
    from conversations.timers import run_status_timers
    from inbox_project.celery import app

    app.conf.task_always_eager = False  # what the status service queues after commit is not run here

    def sweep() -> dict[str, int]:
        return {**run_status_timers(), **run_sla_timers()}

    scale = Conversation.objects.order_by("-pk").values_list("pk", flat=True).first()
    with time_machine.travel(timezone.now(), tick=False):
        warm_moved = sweep()
        sweep()
        print(json.dumps({"scale": scale, "warm_moved": warm_moved}), flush=True)
        for _ in sys.stdin:
            started = time.perf_counter()
            moved = sweep()
            elapsed = (time.perf_counter() - started) * 1000
            print(json.dumps({"ms": elapsed, "moved": moved}), flush=True)


def _reply(process: subprocess.Popen[str]) -> dict[str, Any]:
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"bench.timers child exited:\n{process.stderr.read()[-4000:] if process.stderr else ''}")
    return dict(json.loads(line))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", metavar="DATABASE")
    parser.add_argument("--repeat", type=int, default=REPEAT)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    for database in (SMALL_DB, LARGE_DB):
        if not database_exists(database):
            skip("timers", f"no database {database}: run make bench-data first")
            return 0
    children = {
        database: subprocess.Popen(
            [PYTHON, "-m", "bench.timers", "--serve", database],
            cwd=ROOT,
            env=bench_env(database),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for database in (SMALL_DB, LARGE_DB)
    }
    try:
        ready = {database: _reply(child) for database, child in children.items()}
        samples: dict[str, list[float]] = {database: [] for database in children}
        for _ in range(args.repeat):
            for database, child in children.items():
                stdin: IO[str] | None = child.stdin
                assert stdin is not None
                stdin.write("sweep\n")
                stdin.flush()
                result = _reply(child)
                if any(result["moved"].values()):
                    raise RuntimeError(f"a timed sweep on {database} was not empty: {result['moved']}")
                samples[database].append(result["ms"])
    finally:
        for child in children.values():
            if child.stdin:
                child.stdin.close()
            child.wait(timeout=30)
    large, small = samples[LARGE_DB], samples[SMALL_DB]
    value, base = median(large), median(small)
    report(
        Figure(
            f"timers.empty_sweep (status + SLA) median at {ready[LARGE_DB]['scale']} conversations",
            value,
            "ms",
            base,
            f"{ready[SMALL_DB]['scale']} conversations",
            target=f"ratio <= {RATIO}",
            ok=value / base <= RATIO,
            note=f"p95 {percentile(large, 95):.1f} ms vs {percentile(small, 95):.1f} ms; sweeps alternated",
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
