"""Shopper activity to the staff dashboard's numbers, through the real processes of `mce up`.

The events producer publishes a fixed, seeded count of events on the embedded bus; the stream job windows them, the
analytics service stores the windows, and the gateway serves them. What it serves must equal a recount of the very
events the producer wrote out, by the rules the test vectors spell out (late events included).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mce.kit.bus.sqlite import SqliteEventBus
from mce.kit.contracts import USER_ACTIVITY, USER_EVENTS_TOPIC, WINDOW_SIZE_MS
from mce.kit.events import Event
from tests.conftest import Platform, start_platform
from tests.vectors.stream.generate import recount

pytestmark = pytest.mark.e2e

COUNT = 3000
SEED = 11
OUT_OF_ORDERNESS_MS = 5000  # the stream job's default bound


@pytest.fixture(scope="module")
def quiet_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A platform of its own with no live activity (no autostarted producer, no storefront events) to mix in."""
    quiet = {"MCE_PRODUCER_AUTOSTART": "false", "MCE_ACTIVITY_EVENTS": "false"}
    running = start_platform(tmp_path_factory.mktemp("analytics"), seed=30, extra_env=quiet)
    yield running
    running.stop()


def produce(platform: Platform, out: Path, start_s: int) -> None:
    """`mce produce-events --count` as a developer runs it, on the platform's bus and catalog."""
    env = {**os.environ, "MCE_DATA_DIR": str(platform.data_dir), "MCE_PRODUCT_URL": platform.url("product")}
    command = [sys.executable, "-m", "mce", "produce-events", "--count", str(COUNT), "--seed", str(SEED)]
    command += ["--rate", "0", "--event-rate", "10", "--start", str(start_s), "--out", str(out)]
    command += ["--out-of-order-fraction", "0.2", "--late-fraction", "0.03"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]


def served_windows(platform: Platform) -> list[dict]:
    """The windows the gateway serves to staff, newest first."""
    headers = {"Authorization": f"Bearer {platform.admin_token}"}
    response = httpx.get(f"{platform.url()}/api/analytics/windows", params={"limit": 1440}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["windows"]


def test_the_dashboard_serves_exactly_a_recount_of_the_produced_events(quiet_platform: Platform, tmp_path) -> None:
    start_s = int(time.time()) // 60 * 60 - 3600  # an hour ago, on a minute: whole windows, all in the past
    out = tmp_path / "events.jsonl"
    produce(quiet_platform, out, start_s)
    events = [Event.model_validate_json(line).data for line in out.read_text().splitlines()]
    assert len(events) == COUNT

    # One event two minutes past the last moves the watermark beyond every produced window, so all of them close.
    closer = {"user_id": "closer", "event_type": "search", "product_id": None, "metadata": {}}
    closer["timestamp"] = max(event["timestamp"] for event in events) + 120
    bus = SqliteEventBus(quiet_platform.data_dir / "bus.db")
    try:
        bus.publish(USER_EVENTS_TOPIC, [Event(type=USER_ACTIVITY, key="closer", data=closer)])
    finally:
        bus.close()

    windows, late = recount([*events, closer], OUT_OF_ORDERNESS_MS)
    watermark = closer["timestamp"] * 1000 - OUT_OF_ORDERNESS_MS
    expected = [window for window in windows if window["window_end"] - 1 <= watermark]
    assert len(expected) >= 5 and late > 0, "the run must span several windows and hold late events"
    assert all(window["window_start"] < closer["timestamp"] * 1000 - WINDOW_SIZE_MS for window in expected)

    deadline = time.monotonic() + 60
    served: list[dict] = []
    while time.monotonic() < deadline:
        served = sorted(served_windows(quiet_platform), key=lambda window: window["window_start"])
        if len(served) >= len(expected):
            break
        time.sleep(0.5)
    assert served == expected
