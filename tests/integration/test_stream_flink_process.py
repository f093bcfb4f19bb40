"""The Flink engine's child process, supervised: restarted when it dies, stopped with its own children on stop.

These run real (tiny Python) children in place of PyFlink, so they take a second; the real job has its own test.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from mce.kit.settings import SettingsError, load_settings
from mce.stream.app import create_app
from mce.stream.flink_process import JobProcess
from mce.stream.settings import StreamSettings
from tests.inprocess import IN_PROCESS


def wait_for(check, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie child of ours is gone for every purpose but its table entry.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_job_that_dies_is_started_again_with_its_exit_code_reported(tmp_path: Path) -> None:
    job = JobProcess(python("raise SystemExit(3)"), env={}, log_path=tmp_path / "job.log", first_backoff_s=0.05)
    job.start()
    try:
        wait_for(lambda: job.restarts >= 2)
        assert job.status()["last_exit"] == 3
    finally:
        job.stop()
    restarts = job.restarts
    time.sleep(0.3)
    assert job.restarts == restarts and not job.alive


def test_stop_ends_the_job_and_what_it_started_itself(tmp_path: Path) -> None:
    marker = tmp_path / "grandchild.pid"
    code = (
        "import subprocess, sys, time\n"
        f"child = subprocess.Popen(['sleep', '60'])\nopen({str(marker)!r}, 'w').write(str(child.pid))\ntime.sleep(60)"
    )
    job = JobProcess(python(code), env={"PATH": os.environ["PATH"]}, log_path=tmp_path / "job.log")
    job.start()
    wait_for(lambda: marker.exists() and marker.read_text() != "")
    pid, grandchild = job.pid, int(marker.read_text())
    assert pid is not None
    job.stop(grace_s=5)
    wait_for(lambda: gone(pid) and gone(grandchild))
    assert job.restarts == 0 and job.status()["alive"] is False


def test_a_job_killed_from_outside_is_back_after_its_backoff(tmp_path: Path) -> None:
    job = JobProcess(python("import time; time.sleep(60)"), env={}, log_path=tmp_path / "job.log", first_backoff_s=0.05)
    job.start()
    try:
        first = job.pid
        assert first is not None
        os.killpg(first, 9)
        wait_for(lambda: job.pid not in (None, first))
        assert job.restarts == 1 and job.status()["last_exit"] == -9
    finally:
        job.stop()


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({}, "MCE_FLINK_PYTHON"),
        ({"flink_python": sys.executable}, "MCE_FLINK_KAFKA_JAR"),
        ({"flink_python": sys.executable, "flink_kafka_jar": sys.executable}, "EVENTHUBS_CONNECTION_STRING"),
    ],
)
def test_the_flink_engine_refuses_to_start_without_what_it_needs_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, overrides: dict, named: str
) -> None:
    for name in (
        "MCE_FLINK_PYTHON",
        "MCE_FLINK_KAFKA_JAR",
        "EVENTHUBS_CONNECTION_STRING",
        "MCE_EVENTHUBS_CONNECTION_STRING",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(StreamSettings, data_dir=tmp_path, stream_engine="flink", **IN_PROCESS, **overrides)
    with pytest.raises(SettingsError, match=named):
        create_app(settings)


def test_an_unknown_engine_is_refused_naming_the_setting_and_the_choices(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="MCE_STREAM_ENGINE.*'embedded' or 'flink'"):
        load_settings(StreamSettings, data_dir=tmp_path, stream_engine="spark")
