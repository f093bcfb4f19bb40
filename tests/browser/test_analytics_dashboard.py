"""Staff watch shopper activity in headless Chromium: the chart draws the stored windows and follows new ones live."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from mce.kit.bus.sqlite import SqliteEventBus
from mce.kit.contracts import ANALYTICS_RESULTS_TOPIC, WINDOW_COUNTED, WINDOW_SIZE_MS
from mce.kit.events import Event
from tests.browser.test_storefront import browser  # noqa: F401 - the shared Chromium fixture
from tests.conftest import Platform

pytestmark = pytest.mark.browser

# Minutes ahead of now, so no window the platform's own stream job publishes meanwhile is newer than these.
AHEAD = 30


def result(start: int, users: int, events: int) -> Event:
    data = {"window_start": start, "window_end": start + WINDOW_SIZE_MS, "unique_users": users, "event_count": events}
    return Event(type=WINDOW_COUNTED, key=str(start), data=data)


@pytest.fixture
def bus(platform: Platform) -> Iterator[SqliteEventBus]:
    """The platform's own embedded bus, as the stream job publishes on it."""
    bus = SqliteEventBus(platform.data_dir / "bus.db")
    yield bus
    bus.close()


@pytest.fixture
def staff_page(browser, platform: Platform) -> Iterator[object]:  # noqa: F811 - the fixture imported above
    context = browser.new_context(base_url=platform.url())
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto("/admin/login?next=/admin/analytics")
    page.get_by_test_id("admin-token-input").fill(platform.admin_token)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url("**/admin/analytics")
    yield page
    context.close()


def test_staff_see_the_chart_drawn_and_then_follow_a_new_window_without_reloading(staff_page, bus) -> None:
    page = staff_page
    first = (int(time.time() * 1000) // WINDOW_SIZE_MS + AHEAD) * WINDOW_SIZE_MS
    bus.publish(ANALYTICS_RESULTS_TOPIC, [result(first + m * WINDOW_SIZE_MS, 3 + m, 10 + 2 * m) for m in range(5)])
    newest = first + 4 * WINDOW_SIZE_MS

    chart = page.get_by_test_id("activity-chart")
    page.wait_for_selector(f'[data-testid="activity-chart"][data-latest="{newest}"]')
    assert int(chart.get_attribute("data-drawn")) >= 5
    for line in ("users-line", "events-line"):
        assert page.get_by_test_id(line).get_attribute("d").startswith("M")
    assert page.locator("#activity-chart circle").count() >= 10
    assert page.get_by_test_id("last-users").inner_text() == "7"
    assert page.get_by_test_id("last-events").inner_text() == "18"
    assert page.get_by_test_id("analytics-empty").is_hidden()
    axis_labels = page.locator("#activity-chart text").all_text_contents()
    assert any(":" in label for label in axis_labels) and "UTC" in axis_labels
    rows = page.get_by_test_id("analytics-table").locator("tbody tr")
    assert rows.first.locator("td").nth(1).inner_text() == "7"

    # A marker in the page's own JavaScript state vanishes on any reload; it must survive the update.
    page.evaluate("window.stillTheSamePage = true")
    latest = newest + WINDOW_SIZE_MS
    bus.publish(ANALYTICS_RESULTS_TOPIC, [result(latest, 42, 99)])
    page.wait_for_selector(f'[data-testid="activity-chart"][data-latest="{latest}"]')
    assert page.get_by_test_id("last-users").inner_text() == "42"
    assert page.get_by_test_id("last-events").inner_text() == "99"
    assert page.evaluate("window.stillTheSamePage") is True
    assert rows.first.locator("td").nth(2).inner_text() == "99"
    if shots := os.environ.get("MCE_SCREENSHOTS"):
        page.screenshot(path=f"{shots}/analytics-dashboard.png", full_page=True)
