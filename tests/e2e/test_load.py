"""`make load`'s Locust scenario, run briefly against a real platform: it passes, and a missed threshold fails it."""

from __future__ import annotations

import csv
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mce.harness import Platform, start_platform

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
LOCUST = Path(sys.executable).with_name("locust")


@pytest.fixture(scope="module")
def small_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A platform of its own with a small catalog, so the load does not disturb the shared one."""
    running = start_platform(tmp_path_factory.mktemp("load-platform"), seed=50)
    yield running
    running.stop()


def run_locust(
    platform: Platform, csv_prefix: Path, *, seconds: float, p95_ms: float, scenario: str | None = None
) -> subprocess.CompletedProcess:
    """A scenario headless (the default one unless named): 10 users at the peak, `seconds` long, its stats in
    `<csv_prefix>_stats.csv`."""
    command = [
        str(LOCUST),
        "-f",
        str(ROOT / "load" / "locustfile.py"),
        "--headless",
        "--only-summary",
        "--host",
        platform.url(),
        "--duration",
        str(seconds),
        "--users-peak",
        "10",
        "--p95-ms",
        str(p95_ms),
        "--min-stock",
        "20",
        "--csv",
        str(csv_prefix),
        *(["--scenario", scenario] if scenario else []),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT)


def aggregated(csv_prefix: Path) -> dict[str, str]:
    with open(f"{csv_prefix}_stats.csv", newline="") as stats:
        return next(row for row in csv.DictReader(stats) if row["Name"] == "Aggregated")


def test_the_design_scenario_runs_against_the_platform_and_passes(small_platform: Platform, tmp_path: Path) -> None:
    run = run_locust(small_platform, tmp_path / "load", seconds=8, p95_ms=500)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "load: PASSED" in output
    assert "scenario design" in output
    total = aggregated(tmp_path / "load")
    assert int(total["Request Count"]) >= 20, total
    assert int(total["Failure Count"]) == 0, output
    # The design's shopper lists products and adds to the cart, nothing else.
    assert requested(tmp_path / "load") == {"/api/products", "/api/cart/items"}


def test_the_mixed_scenario_also_checks_out_and_reads_the_orders(small_platform: Platform, tmp_path: Path) -> None:
    run = run_locust(small_platform, tmp_path / "mixed", seconds=10, p95_ms=500, scenario="mixed")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "load: PASSED" in output and "scenario mixed" in output
    assert int(aggregated(tmp_path / "mixed")["Failure Count"]) == 0, output
    assert {"/api/products", "/api/cart/items", "/api/orders", "/api/orders/{id}"} <= requested(tmp_path / "mixed")


def requested(csv_prefix: Path) -> set[str]:
    """The request names a run's stats list."""
    with open(f"{csv_prefix}_stats.csv", newline="") as stats:
        return {row["Name"] for row in csv.DictReader(stats)} - {"Aggregated"}


def test_a_missed_threshold_makes_the_load_run_fail(small_platform: Platform, tmp_path: Path) -> None:
    run = run_locust(small_platform, tmp_path / "load", seconds=3, p95_ms=0.001)
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert "load: FAILED: p95" in output
    assert int(aggregated(tmp_path / "load")["Request Count"]) > 0
