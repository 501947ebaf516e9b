"""Auto-status timers: an empty sweep at 10k conversations (baseline) and at 1M (figure).

``run_status_timers()`` is the beat task's whole pass (idle active -> pending, resolved -> archived,
snoozes end). The data sets were made as if the timers had been running, so after one warm-up pass
(which moves whatever fell due since the data was made) a sweep finds nothing to do: its cost is
the cost of finding nothing, which must not grow with the table (target: ratio <= 1.2).

    python -m bench.timers
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bench.common import (
    LARGE_DB,
    SMALL_DB,
    Figure,
    bench_env,
    database_exists,
    median,
    percentile,
    report,
    run_child,
    setup_django,
    skip,
    timed,
)

REPEAT = 60
RATIO = 1.2


def measure(database: str, repeat: int) -> dict[str, Any]:
    setup_django(database)
    from conversations.models import Conversation
    from conversations.timers import run_status_timers
    from inbox_project.celery import app

    app.conf.task_always_eager = False  # what the status service queues after commit is not run here
    moved = run_status_timers()
    samples = timed(run_status_timers, repeat=repeat, warmup=2)
    scale = Conversation.objects.order_by("-pk").values_list("pk", flat=True).first()
    return {"scale": scale, "warm_moved": moved, "samples": samples}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--measure", metavar="DATABASE")
    parser.add_argument("--repeat", type=int, default=REPEAT)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.repeat)))
        return 0
    for database in (SMALL_DB, LARGE_DB):
        if not database_exists(database):
            skip("timers", f"no database {database}: run make bench-data first")
            return 0
    env = bench_env(SMALL_DB)
    small = run_child("bench.timers", "--measure", SMALL_DB, "--repeat", str(args.repeat), env=env)
    large = run_child("bench.timers", "--measure", LARGE_DB, "--repeat", str(args.repeat), env=env)
    value, base = median(large["samples"]), median(small["samples"])
    report(
        Figure(
            f"timers.empty_sweep median at {large['scale']} conversations",
            value,
            "ms",
            base,
            f"{small['scale']} conversations",
            target=f"ratio <= {RATIO}",
            ok=value / base <= RATIO,
            note=f"p95 {percentile(large['samples'], 95):.1f} ms vs {percentile(small['samples'], 95):.1f} ms",
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
