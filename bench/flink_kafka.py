"""Flink events/s per core reading from Kafka: the unique-users job on the Event Hubs side, bounded, at parallelism 1.

`python -m bench.flink_kafka` with EVENTHUBS_BOOTSTRAP and EVENTHUBS_CONNECTION_STRING (deploy/local/kafka.sh prints
them; MCE_EVENTHUBS_SECURITY_PROTOCOL defaults to SASL_PLAINTEXT here) writes MCE_BENCH_FLINK_KAFKA_EVENTS (500,000)
envelopes to a fresh single-partition hub (untimed), runs the job once over it (`--bounded`: it stops at the end, so
Flink's net runtime is the reading and counting alone) and checks the windows count every event. Prints a skip line
when the endpoint is not given.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from bench.run import machine
from bench.stream_flink import JOB, flink_python, write_events

ROOT = Path(__file__).resolve().parent.parent
EVENTS = int(os.environ.get("MCE_BENCH_FLINK_KAFKA_EVENTS", "500000"))


def eventhubs_environ() -> dict[str, str] | None:
    """The Event Hubs side's settings from the environment, or None when they are not given."""
    bootstrap = os.environ.get("EVENTHUBS_BOOTSTRAP")
    secret = os.environ.get("EVENTHUBS_CONNECTION_STRING")
    if not bootstrap or not secret:
        return None
    protocol = os.environ.get("MCE_EVENTHUBS_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    return {
        "EVENTHUBS_BOOTSTRAP": bootstrap,
        "EVENTHUBS_CONNECTION_STRING": secret,
        "MCE_EVENTHUBS_SECURITY_PROTOCOL": protocol,
    }


def client(environ: dict[str, str]) -> dict[str, str]:
    """confluent-kafka's settings for the Event Hubs side."""
    return {
        "bootstrap.servers": environ["EVENTHUBS_BOOTSTRAP"],
        "security.protocol": environ["MCE_EVENTHUBS_SECURITY_PROTOCOL"],
        "sasl.mechanism": "PLAIN",
        "sasl.username": "$ConnectionString",
        "sasl.password": environ["EVENTHUBS_CONNECTION_STRING"],
    }


def connector_jar() -> str:
    """MCE_FLINK_KAFKA_JAR, else what deploy/local/flink-kafka.sh fetches."""
    given = os.environ.get("MCE_FLINK_KAFKA_JAR")
    if given:
        return given
    done = subprocess.run([str(ROOT / "deploy/local/flink-kafka.sh")], capture_output=True, text=True, check=True)
    return done.stdout.strip().partition("=")[2]


def create_topics(settings: dict[str, str], names: list[str]) -> None:
    """Single-partition topics: one watermark, so the count is exact."""
    admin = AdminClient(settings)
    for future in admin.create_topics([NewTopic(name, 1, 1) for name in names]).values():
        future.result(timeout=30)


def read_all(settings: dict[str, str], topic: str) -> list[bytes]:
    """Every message a single-partition topic holds now."""
    consumer = Consumer({**settings, "group.id": f"bench-{uuid.uuid4().hex}", "enable.auto.commit": False})
    try:
        end = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1]
        consumer.assign([TopicPartition(topic, 0, 0)])
        values: list[bytes] = []
        deadline = time.monotonic() + 60
        while len(values) < end and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                values.append(message.value())
        return values
    finally:
        consumer.close()


def main() -> int:
    """Fill a hub, run the bounded job over it, print events/s and events/s per core."""
    environ = eventhubs_environ()
    if environ is None:
        print("skipped: EVENTHUBS_BOOTSTRAP and EVENTHUBS_CONNECTION_STRING are not set (deploy/local/kafka.sh)")
        return 0
    settings = client(environ)
    run = uuid.uuid4().hex[:8]
    source, sink = f"bench-events-{run}", f"bench-results-{run}"
    create_topics(settings, [source, sink])
    with tempfile.TemporaryDirectory(prefix="mce-flink-kafka-") as tmp:
        path = Path(tmp) / "events.jsonl"
        write_events(path, EVENTS, seed=7)
        producer = Producer({**settings, "linger.ms": 20, "enable.idempotence": True, "batch.size": 1_000_000})
        started = time.perf_counter()
        with path.open("rb") as lines:
            for line in lines:
                while True:
                    try:
                        producer.produce(source, line.rstrip(b"\n"))
                        break
                    except BufferError:
                        producer.poll(0.05)
        assert producer.flush(120) == 0
        print(f"wrote {EVENTS:,} envelopes to {source} in {time.perf_counter() - started:.1f} s (not in the rates)")
    command = [flink_python(), str(JOB), "--bounded", "--group", f"bench-{run}", "--jar", connector_jar()]
    command += ["--source-topic", source, "--sink-topic", sink]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **environ})
    total_s = time.perf_counter() - started
    if done.returncode != 0:
        print(done.stderr[-5000:], file=sys.stderr)
        return 1
    stats = json.loads(done.stdout.strip().splitlines()[-1])
    counted = sum(orjson.loads(raw)["data"]["event_count"] for raw in read_all(settings, sink))
    print(f"machine: {machine()}")
    print(f"start-up (JVM, gateway, planning; not in the rates): {total_s - stats['wall_s']:.1f} s")
    print(f"job: submit to done {stats['wall_s']:.1f} s, Flink net runtime {stats['net_runtime_s']:.1f} s")
    print(f"events/s from Kafka (parallelism 1, over net runtime): {EVENTS / stats['net_runtime_s']:,.0f}")
    print(f"events/s per core (events / JVM CPU seconds, Kafka client included): {EVENTS / stats['jvm_cpu_s']:,.0f}")
    print(f"events counted: {counted:,} of {EVENTS:,}")
    return 0 if counted == EVENTS else 1


if __name__ == "__main__":
    sys.exit(main())
