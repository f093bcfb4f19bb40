"""Latency of the cross-cloud analytics path: msk user-events -> MirrorMaker 2 -> Event Hubs events -> Flink -> results.

`python -m bench.mirror_flink` with KAFKA_BOOTSTRAP, EVENTHUBS_BOOTSTRAP and EVENTHUBS_CONNECTION_STRING
(deploy/local/kafka.sh prints them) starts MirrorMaker 2 with deploy/local/mirrormaker.sh (and stops it after, if it
was not running) and measures, each on fresh single-partition topics:

- mirror: a message produced to msk until it is read from the Event Hubs side (MCE_BENCH_MIRROR_MESSAGES, 300, at
  20/s);
- user event -> counted window: the stream service's Flink job (the same command, unbounded, on a local mini-cluster)
  runs over the mirrored hub; an event that moves the watermark past a window's end is produced to msk and the clock
  stops when that window's count is read from the results hub (MCE_BENCH_WINDOWS, 30, two a second).

Prints a skip line when the endpoints are not given.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition

from bench.flink_kafka import client, connector_jar, create_topics, eventhubs_environ
from bench.run import machine
from bench.stream_flink import flink_python
from mce.kit.contracts import USER_ACTIVITY
from mce.kit.events import Event
from mce.stream.flink_process import JobProcess, flink_command

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "deploy" / "local" / "mirrormaker.sh"
MESSAGES = int(os.environ.get("MCE_BENCH_MIRROR_MESSAGES", "300"))
WINDOWS = int(os.environ.get("MCE_BENCH_WINDOWS", "30"))
T0 = 1_700_000_040
BOUND_S = 5
FIRST_RESULT_TIMEOUT_S = 300


class Arrivals:
    """A consumer thread that notes when each message (by its key) is first read from a topic."""

    def __init__(self, settings: dict[str, str], topic: str) -> None:
        self.seen: dict[bytes, float] = {}
        self._consumer = Consumer({**settings, "group.id": f"bench-{uuid.uuid4().hex}", "fetch.wait.max.ms": 10})
        self._topic = topic
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Arrivals:
        deadline = time.monotonic() + 60
        while self._topic not in self._consumer.list_topics(timeout=10).topics:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self._topic} never appeared on the Event Hubs side")
            time.sleep(0.2)
        self._consumer.assign([TopicPartition(self._topic, 0, 0)])
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            message = self._consumer.poll(0.05)
            if message is not None and message.error() is None:
                self.seen.setdefault(message.key(), time.monotonic())

    def wait(self, key: bytes, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while key not in self.seen:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{key!r} did not arrive in {timeout:.0f} s")
            time.sleep(0.001)
        return self.seen[key]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._consumer.close()


def percentiles(samples_ms: list[float]) -> str:
    """p50 / p95 / max of millisecond samples."""
    cuts = statistics.quantiles(samples_ms, n=100, method="inclusive")
    return f"p50 {cuts[49]:.0f} ms, p95 {cuts[94]:.0f} ms, max {max(samples_ms):.0f} ms ({len(samples_ms)} samples)"


def mirror_latency(msk: Producer, settings: dict[str, str], run: str) -> list[float]:
    """Produce to msk, read from the Event Hubs side: milliseconds per message."""
    create_topics({"bootstrap.servers": os.environ["KAFKA_BOOTSTRAP"]}, [f"user-events.{run}-mirror"])
    msk.produce(f"user-events.{run}-mirror", b"first", key=b"first")
    msk.flush(10)
    arrivals = Arrivals(settings, f"events.{run}-mirror").start()
    try:
        arrivals.wait(b"first", 60)
        samples = []
        for index in range(MESSAGES):
            key = str(index).encode()
            sent = time.monotonic()
            msk.produce(f"user-events.{run}-mirror", key, key=key)
            msk.flush(10)
            samples.append((arrivals.wait(key, 30) - sent) * 1000)
            time.sleep(max(0.0, 0.05 - (time.monotonic() - sent)))
        return samples
    finally:
        arrivals.close()


def activity(user: str, at_s: int) -> bytes:
    data = {"user_id": user, "event_type": "view_product", "product_id": "p1", "timestamp": at_s, "metadata": {}}
    return Event(type=USER_ACTIVITY, key=user, data=data).to_bytes()


def window_latency(msk: Producer, settings: dict[str, str], environ: dict[str, str], run: str) -> list[float]:
    """User event on msk -> its window's count on the results hub, through MirrorMaker 2 and the Flink job."""
    source, hub, results = f"user-events.{run}-e2e", f"events.{run}-e2e", f"results.{run}-e2e"
    create_topics({"bootstrap.servers": os.environ["KAFKA_BOOTSTRAP"]}, [source])
    create_topics(settings, [results])
    msk.produce(source, activity("warm-up", T0))
    msk.flush(10)
    with tempfile.TemporaryDirectory(prefix="mce-bench-flink-") as tmp:
        command = flink_command(
            flink_python(),
            jar=connector_jar(),
            source_topic=hub,
            sink_topic=results,
            group=f"bench-{run}",
            out_of_orderness_ms=BOUND_S * 1000,
            idle_timeout_ms=0,
            checkpoint_dir=Path(tmp) / "checkpoints",
            checkpoint_interval_ms=10_000,
        )
        job = JobProcess(command, env={**os.environ, **environ}, log_path=Path(tmp) / "job.log")
        arrivals = Arrivals(settings, results)
        job.start()
        try:
            arrivals.start()

            # Window i closes when an event at the end of window i plus the bound arrives (it opens window i + 1).
            def close(window: int) -> tuple[bytes, float]:
                sent = time.monotonic()
                msk.produce(source, activity(f"u{window}", T0 + 60 * (window + 1) + BOUND_S))
                msk.flush(10)
                return str((T0 + 60 * window) * 1000).encode(), sent

            key, _ = close(0)
            started = time.monotonic()
            arrivals.wait(key, FIRST_RESULT_TIMEOUT_S)
            print(f"the job started and counted its first window in {time.monotonic() - started:.1f} s")
            samples = []
            for window in range(1, WINDOWS + 1):
                key, sent = close(window)
                samples.append((arrivals.wait(key, 60) - sent) * 1000)
                time.sleep(0.5)
            return samples
        finally:
            arrivals.close()
            job.stop()


def main() -> int:
    """Start MirrorMaker if needed, measure both latencies, print them."""
    environ = eventhubs_environ()
    if environ is None or not os.environ.get("KAFKA_BOOTSTRAP"):
        print("skipped: KAFKA_BOOTSTRAP, EVENTHUBS_BOOTSTRAP and EVENTHUBS_CONNECTION_STRING are not all set")
        return 0
    env = {**os.environ, **environ}
    was_running = subprocess.run([str(SCRIPT), "status"], env=env).returncode == 0
    subprocess.run([str(SCRIPT), "start"], env=env, check=True, stdout=subprocess.DEVNULL)
    settings = client(environ)
    msk = Producer({"bootstrap.servers": os.environ["KAFKA_BOOTSTRAP"], "linger.ms": 0, "enable.idempotence": True})
    run = f"bench-{uuid.uuid4().hex[:8]}"
    try:
        mirror = mirror_latency(msk, settings, run)
        windows = window_latency(msk, settings, environ, run)
    finally:
        if not was_running:
            subprocess.run([str(SCRIPT), "stop"], env=env)
    print(f"machine: {machine()}")
    print(f"user event -> events hub (MirrorMaker 2): {percentiles(mirror)}")
    print(f"user event -> counted window (MirrorMaker 2 + Flink): {percentiles(windows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
