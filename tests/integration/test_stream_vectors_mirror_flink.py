"""The shared stream vectors on real engines: msk user-events -> MirrorMaker 2 -> Event Hubs events -> Flink -> results.

Every case gets its own single-partition topics (`user-events.<run>-<case>` on msk, mirrored as `events.<run>-<case>`),
since exactness against the pure module holds per partition; one bounded Flink job then reads them all once
MirrorMaker has copied everything, so the end of input closes every window, as the file mode's does.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from mce.kit.contracts import WINDOW_COUNTED, WindowPayload
from mce.kit.events import Event
from tests.conftest import Mirror
from tests.integration.test_stream_vectors_flink import POISONED, POISONED_CASE, envelopes, poison
from tests.stream_vectors import case_names, load_case

ROOT = Path(__file__).resolve().parents[2]
JOB = ROOT / "src" / "mce" / "stream" / "flink_job.py"
JOB_TIMEOUT_S = 600
MIRROR_TIMEOUT_S = 120

pytestmark = [pytest.mark.flink, pytest.mark.mirrormaker]


def create_topics(client: dict[str, str], names: list[str]) -> None:
    """Single-partition topics, made explicitly (a broker's implicit topics have several)."""
    admin = AdminClient(client)
    futures = admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1) for name in names])
    for future in futures.values():
        future.result(timeout=30)


def end_offsets(client: dict[str, str], topics: list[str]) -> dict[str, int]:
    """Each single-partition topic's end offset; a topic not there yet, or whose partition has no leader yet (just
    made by MirrorMaker, on a busy machine), is left out: the caller asks again."""
    consumer = Consumer({**client, "group.id": "mce-test-offsets", "enable.auto.commit": False})
    try:
        known = consumer.list_topics(timeout=10).topics
        ends = {}
        for topic in topics:
            if topic in known and not known[topic].error and len(known[topic].partitions) == 1:
                try:
                    ends[topic] = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1]
                except KafkaException as exc:
                    if not exc.args[0].retriable() and exc.args[0].code() != KafkaError.NOT_LEADER_FOR_PARTITION:
                        raise
        return ends
    finally:
        consumer.close()


def read_all(client: dict[str, str], topic: str) -> list[bytes]:
    """Every message a topic holds now, in order within each partition."""
    consumer = Consumer({**client, "group.id": f"mce-test-{uuid.uuid4().hex}", "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        end = sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions)
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        values: list[bytes] = []
        deadline = time.monotonic() + 30
        while len(values) < end and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                values.append(message.value())
        return values
    finally:
        consumer.close()


@pytest.fixture(scope="module")
def mirrored_results(mirrormaker: Mirror, flink_python: str, flink_kafka_jar: str) -> dict[str, object]:
    """Every case sent to msk, mirrored to the Event Hubs side, counted by one bounded Flink job into results."""
    run = uuid.uuid4().hex[:8]
    inputs = {case: envelopes(case) for case in case_names()}
    inputs[POISONED] = [line for event in inputs[POISONED_CASE] for line in (event, *poison(orjson.loads(event)))]
    source = {name: f"user-events.{run}-{name}" for name in inputs}
    events = {name: f"events.{run}-{name}" for name in inputs}
    results = {name: f"results.{run}-{name}" for name in inputs}
    create_topics(mirrormaker.msk_client(), list(source.values()))
    create_topics(mirrormaker.eventhubs_client(), list(results.values()))
    # Idempotence keeps the order through retries (a topic just made may refuse the first batch for a moment).
    producer = Producer({**mirrormaker.msk_client(), "linger.ms": 5, "enable.idempotence": True})
    for name, lines in inputs.items():
        for line in lines:
            producer.produce(source[name], line)
    assert producer.flush(30) == 0

    started = time.monotonic()
    want = {events[name]: len(lines) for name, lines in inputs.items()}
    while (copied := end_offsets(mirrormaker.eventhubs_client(), list(want))) != want:
        assert time.monotonic() - started < MIRROR_TIMEOUT_S, f"MirrorMaker copied {copied} of {want}"
        time.sleep(0.5)
    mirror_s = time.monotonic() - started

    command = [flink_python, str(JOB), "--bounded", "--group", f"mce-test-{run}", "--jar", flink_kafka_jar]
    for name in inputs:
        bound = load_case(name if name != POISONED else POISONED_CASE).out_of_orderness_ms
        command += ["--source-topic", events[name], "--sink-topic", results[name], "--out-of-orderness-ms", str(bound)]
    env = {"PATH": "/usr/bin:/bin", **mirrormaker.environ()}
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=JOB_TIMEOUT_S, env=env)
    assert done.returncode == 0, done.stderr[-5000:]
    job_s = time.monotonic() - started

    windows = {
        name: [Event.from_bytes(raw) for raw in read_all(mirrormaker.eventhubs_client(), topic)]
        for name, topic in results.items()
    }
    dead = read_all(mirrormaker.eventhubs_client(), f"{events[POISONED]}.dlq")
    print(f"mirrored {sum(want.values())} events in {mirror_s:.1f} s; one bounded Flink job took {job_s:.1f} s")
    return {"windows": windows, "dead": dead, "poison_lines": len(inputs[POISONED]) - len(inputs[POISONED_CASE])}


@pytest.mark.parametrize("case", case_names())
def test_flink_on_the_mirrored_hub_counts_every_window_exactly_as_the_vector_expects(
    case: str, mirrored_results: dict
) -> None:
    got = [WindowPayload.model_validate(event.data).model_dump() for event in mirrored_results["windows"][case]]
    assert got == load_case(case).expected


def test_every_result_on_the_results_hub_is_a_window_counted_envelope_with_its_own_id(mirrored_results: dict) -> None:
    for events in mirrored_results["windows"].values():
        assert all(event.type == WINDOW_COUNTED and event.key == str(event.data["window_start"]) for event in events)
        assert len({event.event_id for event in events}) == len(events)


def test_malformed_messages_are_skipped_and_each_is_dead_lettered_once(mirrored_results: dict) -> None:
    windows = [WindowPayload.model_validate(e.data).model_dump() for e in mirrored_results["windows"][POISONED]]
    assert windows == load_case(POISONED_CASE).expected
    dead = [Event.from_bytes(raw) for raw in mirrored_results["dead"]]
    assert len(dead) == mirrored_results["poison_lines"]
    assert {event.type for event in dead} == {"DeadLettered"}
    assert len({event.event_id for event in dead}) == len(dead)
    assert any(event.data["raw"] == "not json at all" for event in dead)


def test_a_missing_connector_jar_is_refused_with_a_message(flink_python: str, mirrormaker: Mirror) -> None:
    command = [flink_python, str(JOB), "--source-topic", "a", "--sink-topic", "b", "--jar", "/nonexistent.jar"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=mirrormaker.environ())
    assert done.returncode == 2
    assert "flink-kafka.sh" in done.stderr
