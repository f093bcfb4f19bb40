"""Events per second through the Flink job on a local mini-cluster, start-up reported apart, per core by JVM CPU time.

`python -m bench.stream_flink [--events N]`: writes N user-events envelopes to a file (not timed), runs the job once
with PyFlink's interpreter (MCE_FLINK_PYTHON, else deploy/local/flink-env.sh builds it) at parallelism 1, and checks
that the windows it wrote count every event (the input stays inside the watermark's bound, so none is late).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from mce.kit.contracts import USER_ACTIVITY, WINDOW_COUNTED

ROOT = Path(__file__).resolve().parent.parent
JOB = ROOT / "src" / "mce" / "stream" / "flink_job.py"
TARGET_PER_CORE = 75_000
START_S = 1_700_000_040  # a whole minute
EVENTS_PER_SECOND = 1_000  # of event time: a minute's window holds 60,000 events
JITTER_S = 3  # out of order by up to 3 s, inside the default 5 s bound, so no event is late
USERS = 20_000
TYPES = ("view_product", "search", "add_to_cart", "purchase")


def flink_python() -> str:
    """PyFlink's interpreter: MCE_FLINK_PYTHON, or what deploy/local/flink-env.sh builds and prints."""
    given = os.environ.get("MCE_FLINK_PYTHON")
    if given:
        return given
    script = ROOT / "deploy" / "local" / "flink-env.sh"
    return subprocess.run([str(script)], capture_output=True, text=True, check=True).stdout.strip()


def write_events(path: Path, count: int, seed: int) -> None:
    """count activity envelopes, one JSON line each, as the kit's Event.to_bytes writes them."""
    rng = random.Random(seed)
    occurred_at = "2026-01-01T00:00:00.000000Z"
    with path.open("wb") as out:
        for index in range(count):
            user = f"u{rng.randrange(USERS)}"
            event_type = TYPES[rng.randrange(len(TYPES))]
            data = {
                "user_id": user,
                "event_type": event_type,
                "product_id": None if event_type == "search" else f"p{rng.randrange(1200)}",
                "timestamp": START_S + index // EVENTS_PER_SECOND - rng.randrange(JITTER_S + 1),
                "metadata": {"query": "lamp"} if event_type == "search" else {},
            }
            envelope = {
                "event_id": f"{index:032x}",
                "type": USER_ACTIVITY,
                "version": 1,
                "occurred_at": occurred_at,
                "key": user,
                "data": data,
            }
            out.write(orjson.dumps(envelope) + b"\n")


def counted_events(directory: Path) -> tuple[int, int]:
    """(windows, events) over the ActivityWindowCounted envelopes the job wrote."""
    windows = events = 0
    for part in directory.glob("part-*"):
        for line in part.read_bytes().splitlines():
            envelope = orjson.loads(line)
            assert envelope["type"] == WINDOW_COUNTED, envelope
            windows += 1
            events += envelope["data"]["event_count"]
    return windows, events


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures; exit 1 when the job miscounts or misses the per-core target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    python = flink_python()
    with tempfile.TemporaryDirectory(prefix="mce-flink-bench-") as tmp:
        source, sink = Path(tmp) / "in", Path(tmp) / "out"
        source.mkdir()
        started = time.perf_counter()
        write_events(source / "events.jsonl", args.events, args.seed)
        size_mb = (source / "events.jsonl").stat().st_size / 1e6
        print(f"generated {args.events:,} envelopes ({size_mb:.0f} MB) in {time.perf_counter() - started:.1f} s")
        command = [python, str(JOB), "--input", str(source), "--output", str(sink), "--parallelism", "1"]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        total_s = time.perf_counter() - started
        if done.returncode != 0:
            print(done.stderr[-5000:], file=sys.stderr)
            return 1
        stats = json.loads(done.stdout.strip().splitlines()[-1])
        windows, counted = counted_events(sink)
    per_second = args.events / stats["net_runtime_s"]
    per_core = args.events / stats["jvm_cpu_s"]
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"start-up (JVM, gateway, planning; not in the rates): {total_s - stats['wall_s']:.1f} s")
    print(f"job: submit to done {stats['wall_s']:.1f} s, Flink net runtime {stats['net_runtime_s']:.1f} s")
    print(f"JVM CPU during the job: {stats['jvm_cpu_s']:.1f} s (every JVM thread: task, JIT, GC, mini-cluster)")
    print(f"events/s (parallelism 1, over net runtime): {per_second:,.0f}")
    print(f"events/s per core (events / JVM CPU seconds): {per_core:,.0f}  (target >= {TARGET_PER_CORE:,})")
    print(f"windows: {windows}, events counted: {counted:,} of {args.events:,}")
    if counted != args.events:
        print("FAIL: the windows do not count every event", file=sys.stderr)
        return 1
    return 0 if per_core >= TARGET_PER_CORE else 1


if __name__ == "__main__":
    sys.exit(main())
