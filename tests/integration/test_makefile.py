"""The Makefile's two flows on a fresh clone, with a stand-in uv that records how it was asked to install."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECORDER = '#!/bin/sh\necho "$(basename "$0") $*" >> "{log}"\n'


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A checkout with the real Makefile and test runner, and uv, mce, pytest and the scripts that start test servers
    and build the checkers, which only record calls."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "deploy" / "local").mkdir(parents=True)
    shutil.copy(ROOT / "deploy" / "local" / "test.sh", tmp_path / "deploy" / "local" / "test.sh")
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "uv.lock").write_text("")
    for tool in (
        ".tools/bin/uv",
        ".venv/bin/mce",
        ".venv/bin/pytest",
        ".venv/bin/python",
        "deploy/local/servers.sh",
        "deploy/local/up-real.sh",
        "deploy/local/chromium.sh",
        "deploy/local/flink-env.sh",
        "deploy/local/flink-kafka.sh",
        "deploy/check/tools.sh",
        "deploy/check/checkov.sh",
    ):
        path = tmp_path / tool
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(RECORDER.format(log=tmp_path / "calls.log"))
        path.chmod(0o755)
    return tmp_path


def make(clone: Path, target: str) -> list[str]:
    """Run a make target; the calls it made to the recorded tools."""
    log = clone / "calls.log"
    log.unlink(missing_ok=True)
    subprocess.run(["make", "--no-print-directory", target], cwd=clone, check=True, capture_output=True)
    return [line for line in log.read_text().splitlines() if not line.endswith(".sh ")] if log.exists() else []


def test_make_up_installs_only_what_the_platform_runs_on(clone: Path) -> None:
    assert make(clone, "up") == ["uv sync --frozen --no-dev --all-extras --python python3", "mce up"]


def test_make_test_after_make_up_installs_the_dev_tools(clone: Path) -> None:
    make(clone, "up")
    assert make(clone, "test")[0] == "uv sync --frozen --all-extras --python python3"


def test_make_up_after_make_test_keeps_the_dev_tools_and_installs_nothing(clone: Path) -> None:
    make(clone, "test")
    assert make(clone, "up") == ["mce up"]
    again = make(clone, "test")
    assert "pytest -m not deploy" in again and not [call for call in again if call.startswith("uv ")]


def test_make_bench_installs_the_dev_tools(clone: Path) -> None:
    make(clone, "up")
    assert make(clone, "bench") == ["uv sync --frozen --all-extras --python python3", "python -m bench.run"]


def test_make_up_real_installs_the_dev_tools_then_starts_the_servers_and_the_platform(clone: Path) -> None:
    assert make(clone, "up-real") == ["uv sync --frozen --all-extras --python python3"]
    assert (clone / "calls.log").read_text().splitlines()[-1] == "up-real.sh "


def test_make_test_starts_the_real_servers_before_the_tests(clone: Path) -> None:
    make(clone, "test")
    calls = (clone / "calls.log").read_text().splitlines()
    assert calls.index("servers.sh reset") < calls.index("servers.sh start") < calls.index("pytest -m not deploy")


def test_make_test_runs_the_deployment_checks_last_once_their_checkers_are_built(clone: Path) -> None:
    make(clone, "test")
    calls = (clone / "calls.log").read_text().splitlines()
    # shellcheck's apt install comes before the servers' (apt runs one at a time); the builds start in the background.
    assert calls.index("tools.sh shellcheck") < calls.index("servers.sh reset")
    assert calls.index("tools.sh ") < calls.index("pytest -m deploy and not apiserver")
    assert calls.index("pytest -m not deploy") < calls.index("pytest -m deploy and not apiserver") == len(calls) - 1
