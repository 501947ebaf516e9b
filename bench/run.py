"""``make bench``: every benchmark module in bench/, one after another, each in its own process.

A benchmark is any module here with a ``main()`` that prints result lines (see bench/common.py);
the helpers (common, datagen, text, settings, urls, run) are not. Modules are found, not listed,
so a benchmark added by someone else runs too. ``BENCH_ONLY=inbox_list,timers`` runs a subset.

The exit status is 0 when every figure with a target met it, 1 otherwise (the lines say which).
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import time

from bench.common import PYTHON, ROOT

HELPERS = {"__init__", "common", "datagen", "text", "settings", "urls", "run"}
# Cheap, database-bound benchmarks first; the ones that start servers last.
ORDER = ["inbox_list", "timers", "analytics_report", "live"]


def modules() -> list[str]:
    stems = (path.stem for path in (ROOT / "bench").glob("*.py"))
    found = sorted(stem for stem in stems if stem not in HELPERS and not stem.startswith("_"))
    found.sort(key=lambda name: ORDER.index(name) if name in ORDER else len(ORDER))
    only = [name.strip() for name in os.environ.get("BENCH_ONLY", "").split(",") if name.strip()]
    return [name for name in found if not only or name in only]


def machine() -> str:
    cpus = os.cpu_count()
    try:
        with open("/proc/meminfo") as handle:
            memory = int(handle.readline().split()[1]) // 1024 // 1024
    except OSError:
        memory = 0
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{platform.machine()}, {cpus} CPUs, {memory} GB RAM, {platform.python_version()}, load {load:.1f}"


def main() -> int:
    print(f"machine: {machine()}", flush=True)
    failed = []
    for name in modules():
        started = time.monotonic()
        print(f"--- {name}", flush=True)
        result = subprocess.run([PYTHON, "-m", f"bench.{name}"], cwd=ROOT, capture_output=True, text=True, check=False)
        lines = result.stdout.splitlines()
        for line in lines:
            print(line, flush=True)
        if result.returncode != 0 and not lines:
            print(f"{name}: ERROR (exit {result.returncode})\n{result.stderr[-3000:]}", flush=True)
            failed.append(name)
        elif result.returncode != 0:
            failed.append(name)  # printed its figures, and exits 1 for a missed target
        elif any(re.search(r"\bMISS\b", line) for line in lines):
            failed.append(name)
        print(f"--- {name}: {time.monotonic() - started:.0f} s", flush=True)
    if failed:
        print(f"targets missed or errors in: {', '.join(failed)}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
