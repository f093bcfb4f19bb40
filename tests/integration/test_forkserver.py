"""The fork server starts `mce serve` as the supervisor's own child: its argv, environment, log and exit code."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from mce.forkserver import ForkedProcess, ForkServer
from mce.harness import free_port

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a child subreaper is Linux's")


@pytest.fixture
def forks():
    started = []
    server = ForkServer.start(fallback=lambda child: started.append(child) or "plain", report=lambda line: None)
    assert server is not None, "Linux offers PR_SET_CHILD_SUBREAPER"
    server.plain = started
    yield server
    server.close()


def child(tmp_path: Path, name: str, **env: str) -> SimpleNamespace:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MCE_")}
    return SimpleNamespace(
        name=name,
        port=free_port(),
        env={**base, "MCE_DATA_DIR": str(tmp_path / "data"), **env},
        log_path=tmp_path / f"{name}.log",
    )


def test_a_forked_service_reads_its_own_environment_logs_to_its_file_and_exits_with_its_code(forks, tmp_path) -> None:
    broken = child(tmp_path, "product", MCE_LOG_LEVEL="LOUD")
    process = forks.launch(broken)
    assert isinstance(process, ForkedProcess)
    assert process.wait(30) == 2  # a bad setting stops `mce serve` with exit status 2
    assert "MCE_LOG_LEVEL" in broken.log_path.read_text()
    assert process.poll() == 2


def test_a_forked_service_serves_leads_its_own_process_group_and_stops_on_sigterm(forks, tmp_path) -> None:
    service = child(tmp_path, "stream")
    process = forks.launch(service)
    assert isinstance(process, ForkedProcess)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{service.port}/healthz", timeout=1) as answer:
                    assert answer.status == 200
                    break
            except OSError:
                assert process.poll() is None, service.log_path.read_text()
                assert time.monotonic() < deadline, "the forked service never answered"
                time.sleep(0.1)
        assert os.getsid(process.pid) == process.pid and os.getpgid(process.pid) == process.pid
        command = Path(f"/proc/{process.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        assert f"-m mce serve stream --port {service.port}" in command  # what ps and pkill -f see
        with pytest.raises(subprocess.TimeoutExpired):
            process.wait(0.1)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
    # uvicorn shuts the app down, then ends by the signal it caught, as it does when started the plain way.
    assert process.wait(30) == -signal.SIGTERM
    assert "Application shutdown complete" in service.log_path.read_text()


def test_a_dead_fork_server_falls_back_to_starting_services_the_plain_way(forks, tmp_path) -> None:
    forks.process.kill()
    forks.process.wait()
    assert forks.launch(child(tmp_path, "product")) == "plain"
    assert forks.broken and len(forks.plain) == 1
