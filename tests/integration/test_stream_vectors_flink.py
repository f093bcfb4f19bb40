"""The shared stream test vectors through the Flink job: every case wrapped in envelopes, all run in one Flink job."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mce.kit.contracts import USER_ACTIVITY, WINDOW_COUNTED, ActivityPayload, WindowPayload
from mce.kit.events import ENVELOPE_VERSION, Event
from tests.conftest import skip_or_fail
from tests.stream_vectors import case_names, load_case

ROOT = Path(__file__).resolve().parents[2]
JOB = ROOT / "src" / "mce" / "stream" / "flink_job.py"
JOB_TIMEOUT_S = 600

pytestmark = pytest.mark.flink


def write_envelopes(case: str, directory: Path) -> None:
    """The case's flat activity payloads as user-events carries them: one kit envelope per line, in arrival order."""
    directory.mkdir(parents=True)
    with (directory / "events.jsonl").open("wb") as out:
        for raw in load_case(case).events:
            payload = ActivityPayload.model_validate(raw)
            event = Event(type=USER_ACTIVITY, key=payload.user_id, data=payload.model_dump(mode="json"))
            out.write(event.to_bytes() + b"\n")


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
def flink_python() -> str:
    """PyFlink's interpreter, as deploy/local/flink-env.sh prints it."""
    path = os.environ.get("MCE_FLINK_PYTHON")
    if not path:
        skip_or_fail("MCE_FLINK_PYTHON is not set; build PyFlink's environment with deploy/local/flink-env.sh")
    if not os.access(path, os.X_OK):
        skip_or_fail(f"MCE_FLINK_PYTHON={path} is not an executable; rerun deploy/local/flink-env.sh")
    return path


@pytest.fixture(scope="module")
def flink_results(flink_python: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Event]]:
    """Every case through one Flink job (one JVM start), each case its own pipeline with its own watermark."""
    cases = case_names()
    work = tmp_path_factory.mktemp("flink")
    command = [flink_python, str(JOB)]
    for case in cases:
        write_envelopes(case, work / "in" / case)
        bound = load_case(case).out_of_orderness_ms
        command += ["--input", str(work / "in" / case), "--output", str(work / "out" / case)]
        command += ["--out-of-orderness-ms", str(bound)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=JOB_TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-5000:]
    return {case: read_results(work / "out" / case) for case in cases}


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
