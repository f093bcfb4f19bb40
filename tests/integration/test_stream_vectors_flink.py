"""The shared stream test vectors through the Flink job: every case wrapped in envelopes, all run in one Flink job."""

from __future__ import annotations

import subprocess
from pathlib import Path

import orjson
import pytest

from mce.kit.contracts import USER_ACTIVITY, WINDOW_COUNTED, ActivityPayload, WindowPayload
from mce.kit.events import ENVELOPE_VERSION, Event
from tests.stream_vectors import case_names, load_case

ROOT = Path(__file__).resolve().parents[2]
JOB = ROOT / "src" / "mce" / "stream" / "flink_job.py"
JOB_TIMEOUT_S = 600
POISONED_CASE = "in_order"
POISONED = "in_order_with_poison"

pytestmark = pytest.mark.flink


def envelopes(case: str) -> list[bytes]:
    """The case's flat activity payloads as user-events carries them: one kit envelope each, in arrival order."""
    lines = []
    for raw in load_case(case).events:
        payload = ActivityPayload.model_validate(raw)
        lines.append(Event(type=USER_ACTIVITY, key=payload.user_id, data=payload.model_dump(mode="json")).to_bytes())
    return lines


def poison(valid: dict) -> list[bytes]:
    """Lines the embedded runner dead-letters, each one alone enough to stop or skew a careless job."""
    data = valid["data"]
    broken = [
        {**data, "timestamp": None},
        {**data, "timestamp": 2**41},  # far in the future: would push the watermark past every window
        {**data, "timestamp": -60},
        {**data, "user_id": "two words"},
        {**data, "user_id": None},
    ]
    return [
        b"not json at all",
        b'{"type": "UserActivityRecorded", "data": "a string"}',
        orjson.dumps({**valid, "data": None}),
        orjson.dumps({**valid, "type": "SomethingElse"}),
        *(orjson.dumps({**valid, "data": bad}) for bad in broken),
    ]


def write_lines(lines: list[bytes], directory: Path) -> None:
    directory.mkdir(parents=True)
    (directory / "events.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))


def part_number(path: Path) -> tuple[int, ...]:
    """Flink's part files end in -<subtask>-<counter>; order them by those numbers, not as text."""
    return tuple(int(piece) for piece in path.name.split("-")[-2:])


def read_results(directory: Path) -> list[Event]:
    """The envelopes the job committed to directory (in-progress and hidden files are not results)."""
    if not directory.is_dir():
        return []
    parts = sorted((path for path in directory.iterdir() if path.name.startswith("part-")), key=part_number)
    return [Event.from_bytes(line) for path in parts for line in path.read_bytes().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def flink_results(flink_python: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Event]]:
    """Every case through one Flink job (one JVM start), each case its own pipeline with its own watermark."""
    cases = case_names()
    work = tmp_path_factory.mktemp("flink")
    command = [flink_python, str(JOB)]
    inputs = {case: envelopes(case) for case in cases}
    # The in-order case again, with poison after every valid line: it must give the very same windows.
    valid = inputs[POISONED_CASE]
    inputs[POISONED] = [line for event in valid for line in (event, *poison(orjson.loads(event)))]
    for name, lines in inputs.items():
        write_lines(lines, work / "in" / name)
        bound = load_case(name if name != POISONED else POISONED_CASE).out_of_orderness_ms
        command += ["--input", str(work / "in" / name), "--output", str(work / "out" / name)]
        command += ["--out-of-orderness-ms", str(bound)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=JOB_TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-5000:]
    return {name: read_results(work / "out" / name) for name in inputs}


@pytest.mark.parametrize("case", case_names())
def test_the_flink_job_counts_every_window_exactly_as_the_vector_expects(
    case: str, flink_results: dict[str, list[Event]]
) -> None:
    expected = load_case(case).expected
    assert [WindowPayload.model_validate(event.data).model_dump() for event in flink_results[case]] == expected


@pytest.mark.parametrize("case", case_names())
def test_every_flink_result_is_a_window_counted_envelope_keyed_by_its_window_start(
    case: str, flink_results: dict[str, list[Event]]
) -> None:
    for event in flink_results[case]:
        assert (event.type, event.version) == (WINDOW_COUNTED, ENVELOPE_VERSION)
        assert event.key == str(event.data["window_start"])
    assert len({event.event_id for event in flink_results[case]}) == len(flink_results[case])


def test_malformed_lines_are_skipped_as_the_embedded_runner_skips_them(flink_results: dict[str, list[Event]]) -> None:
    windows = [WindowPayload.model_validate(event.data).model_dump() for event in flink_results[POISONED]]
    assert windows == load_case(POISONED_CASE).expected
