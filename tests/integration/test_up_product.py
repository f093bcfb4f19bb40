"""`mce up` and its supervisor over the real product service alone: starts, freezes, crashes and restarts."""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mce import registry
from mce.supervisor import (
    Supervisor,
    answers_200,
    migrate_where_needed,
    plan_platform,
    resolve_local_secrets,
)
from tests.conftest import free_port, start_platform

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def product_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry lists the product service alone, on a free port, and no MCE_ variable leaks in."""
    for variable in [k for k in os.environ if k.startswith("MCE_")]:
        monkeypatch.delenv(variable)
    monkeypatch.setattr(registry, "SERVICES", (registry.BY_NAME["product"],))
    monkeypatch.setenv("MCE_PRODUCT_PORT", str(free_port()))


def until(check: Callable[[], bool], timeout: float, tick: Callable[[], None] = lambda: None) -> bool:
    """Tick until check() holds; False if it does not within the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tick()
        if check():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def supervised(product_only: None, tmp_path: Path) -> Iterator[tuple[Supervisor, list[str]]]:
    """The product service started and ready under a supervisor that calls a service frozen after 3 s."""
    plan = plan_platform(tmp_path, os.environ)
    resolve_local_secrets(list(plan.settings.values()), plan.data_dir)
    (plan.data_dir / "logs").mkdir()
    migrate_where_needed(list(plan.databases.values()), report=lambda _: None)
    reports: list[str] = []
    supervisor = Supervisor(plan.children, freeze_timeout_s=3, probe_every_s=0.5, report=reports.append)
    supervisor.start(plan.children)
    try:
        assert supervisor.wait_ready(60, stopping=lambda: False) is None, plan.children[0].log_tail()
        yield supervisor, reports
    finally:
        supervisor.stop()


def test_a_frozen_service_is_killed_and_started_again_with_its_last_log_lines(supervised) -> None:
    supervisor, reports = supervised
    child = supervisor.children[0]
    frozen = child.process
    os.kill(frozen.pid, signal.SIGSTOP)
    try:
        restarted = until(lambda: "product answers again" in reports, 60, supervisor.tick)
    finally:
        if frozen.poll() is None:
            os.kill(frozen.pid, signal.SIGKILL)
    assert restarted, reports
    assert frozen.poll() == -signal.SIGKILL
    report = next(r for r in reports if "has not answered /healthz" in r)
    assert re.match(r"product has not answered /healthz for [34] s; killed it; starting it again in 0\.5 s", report)
    tail = report.split("last log lines:")[1]
    assert '"service":"product"' in tail and '"route":"/healthz"' not in tail
    assert child.process.pid != frozen.pid and answers_200(f"{child.url}/readyz")


def test_a_crashed_service_is_started_again(supervised) -> None:
    supervisor, reports = supervised
    child = supervisor.children[0]
    crashed = child.process
    os.kill(crashed.pid, signal.SIGKILL)
    assert until(lambda: "product answers again" in reports, 60, supervisor.tick), reports
    assert any(r.startswith("product exited with code -9; starting it again in 0.5 s") for r in reports), reports
    assert child.process.pid != crashed.pid


def test_stop_ends_a_frozen_service_too(supervised) -> None:
    supervisor, _ = supervised
    frozen = supervisor.children[0].process
    os.kill(frozen.pid, signal.SIGSTOP)
    supervisor.stop(grace_s=1)
    assert frozen.poll() == -signal.SIGKILL


def test_up_migrates_and_seeds_on_first_start_and_does_neither_on_the_next(product_only, tmp_path: Path) -> None:
    command = (sys.executable, "-m", "tests.mce_subset", "up")
    env = {"MCE_TEST_SERVICES": "product", "PYTHONPATH": str(ROOT)}
    first = start_platform(tmp_path, seed=30, extra_env=env, command=command)
    assert first.stop() == 0
    second = start_platform(tmp_path, seed=30, extra_env=env, command=command)
    assert second.stop() == 0
    assert "[mce] migrating the product database…" in first.output
    assert "[mce] first start: seeding the demo catalog with 30 products…" in first.output
    assert not any("migrating" in line or "seeding" in line for line in second.output), second.output
    banner = next(line for line in second.output if line.startswith("[mce]   product"))
    assert f"metrics: {second.metrics_url('product')}" in banner
