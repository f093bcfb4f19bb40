"""The analytics path on real engines: activity sent to msk crosses MirrorMaker 2, the stream service's supervised
Flink job (MCE_STREAM_ENGINE=flink) counts it from the Event Hubs side's hub into its results hub, and the analytics
service (MCE_BUS=eventhubs) serves those windows; a job killed from outside is started again and goes on from its
checkpoint without losing or double-counting a window.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from fastapi.testclient import TestClient

from mce.kit.contracts import USER_ACTIVITY, WINDOW_COUNTED
from mce.kit.events import Event
from mce.kit.settings import load_settings
from mce.services.analytics.app import create_app as create_analytics_app
from mce.services.analytics.settings import AnalyticsSettings
from mce.stream.app import create_app
from mce.stream.settings import StreamSettings
from tests.conftest import Mirror
from tests.inprocess import IN_PROCESS
from tests.integration.test_stream_vectors_mirror_flink import create_topics

T0 = 1_700_000_040  # a whole minute, in seconds
RESULT_TIMEOUT_S = 240

pytestmark = [pytest.mark.flink, pytest.mark.mirrormaker]


def activity(user: str, at_s: int) -> bytes:
    data = {"user_id": user, "event_type": "view_product", "product_id": "p1", "timestamp": at_s, "metadata": {}}
    return Event(type=USER_ACTIVITY, key=user, data=data).to_bytes()


class Results:
    """Reads the results hub as it fills."""

    def __init__(self, mirror: Mirror, topic: str) -> None:
        self.consumer = Consumer({**mirror.eventhubs_client(), "group.id": f"t-{uuid.uuid4().hex}"})
        self.consumer.assign([TopicPartition(topic, 0, 0)])
        self.windows: list[Event] = []

    def wait_for(self, count: int, timeout: float = RESULT_TIMEOUT_S) -> list[Event]:
        deadline = time.monotonic() + timeout
        while len(self.windows) < count:
            assert time.monotonic() < deadline, f"only {len(self.windows)} of {count} windows came"
            message = self.consumer.poll(0.5)
            if message is not None and message.error() is None:
                self.windows.append(Event.from_bytes(message.value()))
        return self.windows


def test_the_flink_engine_counts_mirrored_activity_and_survives_its_job_being_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mirrormaker: Mirror, flink_python: str, flink_kafka_jar: str
) -> None:
    run = uuid.uuid4().hex[:8]
    source, hub, results_hub = f"user-events.svc-{run}", f"events.svc-{run}", f"results.svc-{run}"
    create_topics(mirrormaker.msk_client(), [source])
    create_topics(mirrormaker.eventhubs_client(), [results_hub])
    for name, value in mirrormaker.environ().items():
        monkeypatch.setenv(name, value)
    settings = load_settings(
        StreamSettings,
        data_dir=tmp_path,
        stream_engine="flink",
        flink_python=flink_python,
        flink_kafka_jar=flink_kafka_jar,
        eventhubs_events_hub=hub,
        eventhubs_results_hub=results_hub,
        stream_group=f"svc-{run}",
        **IN_PROCESS,
    )
    analytics = load_settings(
        AnalyticsSettings,
        data_dir=tmp_path / "analytics",
        bus="eventhubs",
        eventhubs_security_protocol=mirrormaker.eventhubs_security_protocol,
        analytics_results_topic=results_hub,
        **IN_PROCESS,
    )
    producer = Producer({**mirrormaker.msk_client(), "enable.idempotence": True})

    def send(*events: tuple[str, int]) -> None:
        for user, at_s in events:
            producer.produce(source, activity(user, at_s))
        assert producer.flush(10) == 0

    results = Results(mirrormaker, results_hub)
    with TestClient(create_app(settings)) as client, TestClient(create_analytics_app(analytics)) as dashboard:
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        # W0 = [T0, T0+60): a, b, c, a; d at T0+66 moves the watermark to T0+61 and closes it.
        send(("a", T0 + 1), ("b", T0 + 5), ("c", T0 + 10), ("a", T0 + 30), ("d", T0 + 66))
        first = results.wait_for(1)[0]
        assert first.type == WINDOW_COUNTED
        assert first.data == {
            "window_start": T0 * 1000,
            "window_end": (T0 + 60) * 1000,
            "unique_users": 3,
            "event_count": 4,
        }

        # W1 gets two more events, then the job is killed; its successor must still count W1 as d, b, c.
        send(("b", T0 + 70), ("c", T0 + 80))
        time.sleep(3)  # a checkpoint (every second) or two
        pid = client.get("/stats").json()["pid"]
        os.killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while (stats := client.get("/stats").json())["pid"] in (None, pid):
            assert time.monotonic() < deadline, stats
            time.sleep(0.2)
        assert stats["restarts"] == 1 and stats["last_exit"] == -signal.SIGKILL
        send(("e", T0 + 130))
        windows = {event.data["window_start"]: event.data for event in results.wait_for(2)}
        assert windows[(T0 + 60) * 1000]["unique_users"] == 3
        assert windows[(T0 + 60) * 1000]["event_count"] == 3
        assert "stream_flink_job_up 1.0" in client.get("/metrics").text
        deadline = time.monotonic() + 30
        while len(served := dashboard.get("/windows").json()["windows"]) < 2:
            assert time.monotonic() < deadline, served
            time.sleep(0.2)
        assert [(w["window_start"], w["unique_users"], w["event_count"]) for w in served] == [
            ((T0 + 60) * 1000, 3, 3),
            (T0 * 1000, 3, 4),
        ]
        pid = client.get("/stats").json()["pid"]
    # Shut down: the job and its JVM are gone (or zombies: dead, waiting for an init that may be slow to reap them).
    deadline = time.monotonic() + 15
    while living := _living_members(pid):
        assert time.monotonic() < deadline, f"the Flink job outlived the service: {living}"
        time.sleep(0.2)


def _living_members(group: int) -> list[int]:
    """The processes of a process group that still run (zombies, which only wait to be reaped, do not count)."""
    living = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name may hold spaces and parentheses: the fields that follow it start after the last ')'.
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        state, process_group = fields[0], int(fields[2])
        if process_group == group and state != "Z":
            living.append(int(stat.parent.name))
    return living
