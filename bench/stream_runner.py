"""Events per second through the embedded stream runner: bus read -> unique-users windows -> results published.

Run with `.venv/bin/python -m bench.stream_runner` (MCE_BENCH_STREAM_EVENTS events, default 1,000,000). The events
are put on a fresh embedded bus first, untimed; the timing covers the runner consuming all of them, publishing
every window (the last by the end-of-input flush) and its final checkpoint.
"""

from __future__ import annotations

import gc
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from bench.run import machine
from mce.kit.bus.sqlite import SqliteEventBus
from mce.kit.contracts import ANALYTICS_RESULTS_TOPIC, USER_ACTIVITY, USER_EVENTS_TOPIC
from mce.kit.events import Event
from mce.stream.checkpoint import SqliteCheckpointStore
from mce.stream.runner import StreamRunner

EVENTS = int(os.environ.get("MCE_BENCH_STREAM_EVENTS", "1000000"))
USERS = 20_000
EVENTS_PER_MINUTE = 10_000
T0 = 1_700_000_040
PUBLISH_CHUNK = 50_000
TYPES = ("view_product", "search", "add_to_cart", "purchase")


def activity(rng: random.Random, i: int) -> Event:
    """One synthetic shopper action, up to 4 s out of order, as the events producer would publish it."""
    user = f"shopper-{rng.randrange(USERS)}"
    kind = TYPES[i % 4]
    second = T0 + i * 60 // EVENTS_PER_MINUTE - rng.randrange(5)
    data = {
        "user_id": user,
        "event_type": kind,
        "product_id": None if kind == "search" else str(rng.randrange(1, 1200)),
        "timestamp": second,
        "metadata": {},
    }
    return Event(type=USER_ACTIVITY, key=user, data=data)


def fill(bus: SqliteEventBus, count: int) -> None:
    """Put count events on the activity topic, in chunks."""
    rng = random.Random(7)
    # Untimed set-up: the collector would only rescan the chunk's fresh models over and over.
    gc.disable()
    try:
        for begin in range(0, count, PUBLISH_CHUNK):
            chunk = [activity(rng, i) for i in range(begin, min(count, begin + PUBLISH_CHUNK))]
            bus.publish(USER_EVENTS_TOPIC, chunk)
    finally:
        gc.enable()


def main() -> int:
    count = EVENTS
    with tempfile.TemporaryDirectory(prefix="mce-bench-stream-") as tmp:
        data = Path(tmp)
        bus = SqliteEventBus(data / "bus.db")
        started = time.perf_counter()
        fill(bus, count)
        print(f"published {count:,} events in {time.perf_counter() - started:.1f} s (not timed)", flush=True)
        checkpoints = SqliteCheckpointStore(data / "stream" / "checkpoints.db")
        runner = StreamRunner(bus, checkpoints)
        started, cpu_started = time.perf_counter(), time.process_time()
        runner.run_to_end(flush=True)
        took, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        results = bus.subscribe(ANALYTICS_RESULTS_TOPIC, "bench").poll(100_000, timeout=0)
        counted = sum(d.event.data["event_count"] for d in results if d.event is not None)
        windows = runner.windows
        if windows.events != count or counted + windows.late_dropped != count:
            print(f"runner saw {windows.events} events, windows hold {counted}, late {windows.late_dropped}")
            return 1
        print(
            f"stream runner: {count:,} events in {took:.2f} s = {count / took:,.0f} events/s "
            f"({len(results)} windows, {windows.late_dropped} late, {runner.checkpoints_saved} checkpoints)"
        )
        # One thread does all of it: on a machine shared with other work, events per CPU second is the steadier figure.
        print(f"CPU: {cpu:.2f} s = {count / cpu:,.0f} events per CPU second")
        print(f"machine: {machine()}")
        checkpoints.close()
        bus.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
