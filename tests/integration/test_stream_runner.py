"""The embedded stream runner over a real embedded bus: the shared vectors, restarts, and malformed input."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from mce.kit.bus.consumer import dead_letter_topic
from mce.kit.bus.sqlite import SqliteEventBus
from mce.kit.contracts import ANALYTICS_RESULTS_TOPIC, USER_ACTIVITY, USER_EVENTS_TOPIC, WINDOW_COUNTED, WindowPayload
from mce.kit.events import Event
from mce.stream.checkpoint import Checkpoint, SqliteCheckpointStore
from mce.stream.runner import StreamRunner, window_event_id
from tests.stream_vectors import StreamCase, case_names, load_case

ROOT = Path(__file__).resolve().parents[2]
BIG = "many_users_many_windows"


def envelopes(events: list[dict]) -> list[Event]:
    """Activity payloads as the producer publishes them: keyed by user."""
    return [Event(type=USER_ACTIVITY, key=e["user_id"], data=e) for e in events]


def results(bus: SqliteEventBus, group: str = "reader") -> list[Event]:
    """Every event on the results topic, in order."""
    return [d.event for d in bus.subscribe(ANALYTICS_RESULTS_TOPIC, group).poll(100_000, timeout=0)]


def runner_on(tmp_path: Path, bus: SqliteEventBus, case: StreamCase, **options: object) -> StreamRunner:
    return StreamRunner(
        bus,
        SqliteCheckpointStore(tmp_path / "stream" / "checkpoints.db"),
        out_of_orderness_ms=case.out_of_orderness_ms,
        **options,
    )


@pytest.fixture
def bus(tmp_path: Path) -> SqliteEventBus:
    opened = SqliteEventBus(tmp_path / "bus.db")
    yield opened
    opened.close()


@pytest.mark.parametrize("name", case_names())
@pytest.mark.parametrize("batch_size", [10_000, 3])
def test_the_runner_publishes_each_cases_expected_windows_and_drops_its_late_events(
    tmp_path: Path, bus: SqliteEventBus, name: str, batch_size: int
) -> None:
    case = load_case(name)
    bus.publish(USER_EVENTS_TOPIC, envelopes(case.events))
    runner = runner_on(tmp_path, bus, case, batch_size=batch_size)
    runner.run_to_end(flush=True)
    published = results(bus)
    assert [e.data for e in published] == case.expected
    assert runner.windows.late_dropped == case.late_events
    assert runner.windows.events == len(case.events) and runner.malformed == 0


def test_each_result_is_a_window_counted_event_keyed_by_its_start_with_a_stable_id(
    tmp_path: Path, bus: SqliteEventBus
) -> None:
    case = load_case("late")
    bus.publish(USER_EVENTS_TOPIC, envelopes(case.events))
    runner_on(tmp_path, bus, case).run_to_end()
    for event in results(bus):
        window = WindowPayload.model_validate(event.data)
        assert event.type == WINDOW_COUNTED
        assert event.key == str(window.window_start)
        assert event.event_id == window_event_id("stream", USER_EVENTS_TOPIC, window.window_start)


def test_a_runner_stopped_mid_stream_and_restarted_publishes_what_an_uninterrupted_one_does(
    tmp_path: Path, bus: SqliteEventBus
) -> None:
    case = load_case(BIG)
    half = len(case.events) // 2
    bus.publish(USER_EVENTS_TOPIC, envelopes(case.events[:half]))
    first = runner_on(tmp_path, bus, case, batch_size=250, poll_timeout_s=0.05)
    first.start()
    deadline = time.monotonic() + 10
    while first.windows.events < half and time.monotonic() < deadline:
        time.sleep(0.01)
    first.stop()
    assert not first.alive
    bus.publish(USER_EVENTS_TOPIC, envelopes(case.events[half:]))
    second = runner_on(tmp_path, bus, case, batch_size=250)
    second.run_to_end(flush=True)
    assert [e.data for e in results(bus)] == case.expected
    assert second.windows.late_dropped == case.late_events
    assert second.windows.events == len(case.events)


def test_a_crash_after_a_checkpoint_loses_nothing_and_counts_nothing_twice(tmp_path: Path, bus: SqliteEventBus) -> None:
    case = load_case(BIG)
    bus.publish(USER_EVENTS_TOPIC, envelopes(case.events))
    crashed = runner_on(tmp_path, bus, case, batch_size=200, checkpoint_interval_s=float("inf"))
    for _ in range(8):
        crashed.step()
    crashed.checkpoint()
    # Work after the checkpoint: windows published, offsets read, none of it saved. Then the process dies.
    for _ in range(9):
        crashed.step()
    published_before_crash = len(results(bus, "before"))
    crashed.close()
    assert published_before_crash > 0
    restarted = runner_on(tmp_path, bus, case, batch_size=200)
    restarted.run_to_end(flush=True)
    published = results(bus)
    # Windows re-emitted after the crash repeat their id and counts exactly; consumers drop them by id.
    by_id: dict[str, dict] = {}
    for event in published:
        assert by_id.setdefault(event.event_id, event.data) == event.data
    assert list(by_id.values()) == case.expected
    assert len(published) > len(case.expected)
    assert restarted.windows.late_dropped == case.late_events
    assert restarted.windows.events == len(case.events)


def test_a_crash_between_the_checkpoint_and_the_group_commit_skips_what_the_checkpoint_holds(
    tmp_path: Path, bus: SqliteEventBus
) -> None:
    case = load_case("late")
    bus.publish(USER_EVENTS_TOPIC, envelopes(case.events))
    runner = runner_on(tmp_path, bus, case, batch_size=4, checkpoint_interval_s=float("inf"))
    runner.step()
    runner.step()
    # Save the checkpoint as the runner would, then die before committing the offsets to the group.
    runner.checkpoints.save(runner.group, USER_EVENTS_TOPIC, Checkpoint(runner.offsets, runner.windows.snapshot()))
    runner.close()
    restarted = runner_on(tmp_path, bus, case, batch_size=4)
    restarted.run_to_end(flush=True)
    by_id = {e.event_id: e.data for e in results(bus)}
    assert list(by_id.values()) == case.expected
    assert restarted.windows.events == len(case.events)
    assert restarted.windows.late_dropped == case.late_events


KILLED_RUNNER = """
import sys
from pathlib import Path
from mce.kit.bus.sqlite import SqliteEventBus
from mce.stream.checkpoint import SqliteCheckpointStore
from mce.stream.runner import StreamRunner
data = Path(sys.argv[1])
runner = StreamRunner(
    SqliteEventBus(data / "bus.db"),
    SqliteCheckpointStore(data / "stream" / "checkpoints.db"),
    batch_size=50,
    checkpoint_interval_s=0.05,
    poll_timeout_s=0.05,
)
runner.run()
"""


def saved_offset(path: Path) -> int:
    """The offset of the last checkpoint saved, or 0."""
    if not path.exists():
        return 0
    conn = sqlite3.connect(path)
    try:
        row = conn.execute("SELECT offsets FROM checkpoints").fetchone()
    except sqlite3.OperationalError:  # the runner has not made its table yet
        return 0
    finally:
        conn.close()
    return max(orjson.loads(row[0]).values(), default=0) if row else 0


def test_a_runner_killed_outright_is_picked_up_by_the_next_with_the_same_results(
    tmp_path: Path, bus: SqliteEventBus
) -> None:
    case = load_case(BIG)
    assert case.out_of_orderness_ms == 5000  # the killed process runs with the default
    bus.publish(USER_EVENTS_TOPIC, envelopes(case.events[:4000]))
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    process = subprocess.Popen([sys.executable, "-c", KILLED_RUNNER, str(tmp_path)], env=env)
    try:
        deadline = time.monotonic() + 30
        while saved_offset(tmp_path / "stream" / "checkpoints.db") == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert saved_offset(tmp_path / "stream" / "checkpoints.db") > 0, "the runner never checkpointed"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    bus.publish(USER_EVENTS_TOPIC, envelopes(case.events[4000:]))
    restarted = runner_on(tmp_path, bus, case)
    restarted.run_to_end(flush=True)
    by_id: dict[str, dict] = {}
    for event in results(bus):
        assert by_id.setdefault(event.event_id, event.data) == event.data
    assert list(by_id.values()) == case.expected
    assert restarted.windows.events == len(case.events)
    assert restarted.windows.late_dropped == case.late_events


def store_raw(bus: SqliteEventBus, payload: bytes) -> None:
    """Put bytes on the activity topic as a broken producer might."""
    with sqlite3.connect(bus.path) as conn:
        conn.execute(
            "INSERT INTO events (topic, key, event_id, payload, stored_at) VALUES (?, 'k', 'x', ?, 0)",
            (USER_EVENTS_TOPIC, payload),
        )


def activity_envelope(**data: object) -> bytes:
    return Event(type=USER_ACTIVITY, key="k", data=data).to_bytes()


MALFORMED = [
    b"not json at all",
    b"",
    b"null",
    b"[1, 2, 3]",
    b'"a string"',
    b'{"type": "UserActivityRecorded"}',
    b'{"type": "UserActivityRecorded", "data": "text"}',
    b'{"type": "UserActivityRecorded", "data": [1]}',
    Event(type="OrderPlaced", key="k", data={"user_id": "a", "timestamp": 1_700_000_050}).to_bytes(),
    activity_envelope(user_id="a"),
    activity_envelope(timestamp=1_700_000_050),
    activity_envelope(user_id="a", timestamp="1700000050"),
    activity_envelope(user_id="a", timestamp=1_700_000_050.5),
    activity_envelope(user_id="a", timestamp=True),
    activity_envelope(user_id="a", timestamp=-1),
    activity_envelope(user_id="a", timestamp=2**40 + 1),
    activity_envelope(user_id="a", timestamp=None),
    activity_envelope(user_id="", timestamp=1_700_000_050),
    activity_envelope(user_id="x" * 101, timestamp=1_700_000_050),
    activity_envelope(user_id="has space", timestamp=1_700_000_050),
    activity_envelope(user_id="trailing\n", timestamp=1_700_000_050),
    activity_envelope(user_id=7, timestamp=1_700_000_050),
    activity_envelope(user_id=["a"], timestamp=1_700_000_050),
    b'{"type": "UserActivityRecorded", "data": {"user_id": "a", "timestamp": 1e400}}',
]


def test_malformed_events_are_skipped_counted_and_dead_lettered_and_the_good_ones_still_count(
    tmp_path: Path, bus: SqliteEventBus
) -> None:
    case = load_case("in_order")
    good = envelopes(case.events)
    # Good and bad interleaved, so each batch holds both.
    for index, event in enumerate(good):
        bus.publish(USER_EVENTS_TOPIC, [event])
        for payload in MALFORMED[index :: len(good)]:
            store_raw(bus, payload)
    runner = runner_on(tmp_path, bus, case, batch_size=7)
    runner.run_to_end(flush=True)
    assert [e.data for e in results(bus)] == case.expected
    assert runner.malformed == len(MALFORMED)
    assert runner.windows.events == len(case.events)
    parked = bus.subscribe(dead_letter_topic(USER_EVENTS_TOPIC), "audit").poll(1000, timeout=0)
    assert len(parked) == len(MALFORMED)
    assert sorted(d.event.data["raw"] for d in parked) == sorted(p.decode() for p in MALFORMED)
    assert all(d.event.data["error"] and d.event.data["group"] == "stream" for d in parked)


def test_a_runner_in_its_thread_survives_a_topic_of_nothing_but_garbage(tmp_path: Path, bus: SqliteEventBus) -> None:
    for payload in MALFORMED:
        store_raw(bus, payload)
    runner = runner_on(tmp_path, bus, load_case("in_order"), poll_timeout_s=0.05)
    runner.start()
    deadline = time.monotonic() + 10
    while runner.malformed < len(MALFORMED) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert runner.alive
    runner.stop()
    assert runner.malformed == len(MALFORMED) and runner.windows.events == 0


def test_a_runner_that_fails_starts_again_from_its_last_checkpoint(tmp_path: Path, bus: SqliteEventBus) -> None:
    case = load_case(BIG)
    bus.publish(USER_EVENTS_TOPIC, envelopes(case.events))
    runner = runner_on(tmp_path, bus, case, batch_size=300, poll_timeout_s=0.05, checkpoint_interval_s=0.0)
    publish = bus.publish
    failures = []

    def flaky_publish(topic: str, events: list[Event]) -> None:
        # The results topic fails once, mid-stream, after some windows went out.
        if topic == ANALYTICS_RESULTS_TOPIC and runner.published >= 5 and not failures:
            failures.append(topic)
            raise sqlite3.OperationalError("disk I/O error")
        publish(topic, events)

    bus.publish = flaky_publish  # type: ignore[method-assign]
    runner.start()
    deadline = time.monotonic() + 20
    while runner.windows.events < len(case.events) and time.monotonic() < deadline:
        time.sleep(0.02)
    runner.stop()
    bus.publish = publish  # type: ignore[method-assign]
    assert failures and runner.last_error and "disk I/O error" in runner.last_error
    finisher = runner_on(tmp_path, bus, case)
    finisher.run_to_end(flush=True)
    by_id = {e.event_id: e.data for e in results(bus)}
    assert list(by_id.values()) == case.expected
    assert finisher.windows.late_dropped == case.late_events
