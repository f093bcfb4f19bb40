"""The analytics gateway and dashboard: staff only, the real analytics service behind, 503 naming it when it is down."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from frontend_fakes import ADMIN_TOKEN, DownTransport, FakeCatalog, frontend_client

from mce.services.analytics import usecases
from mce.services.analytics.app import create_app as create_analytics_app
from mce.services.analytics.settings import AnalyticsSettings
from tests.analytics_windows import as_served, window_event
from tests.inprocess import IN_PROCESS, ClientTransport

STAFF = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SHOPPER = {"email": "ada@example.com", "password": "correct horse battery", "name": "Ada"}


@pytest.fixture
def analytics(tmp_path: Path) -> Iterator[TestClient]:
    """The real analytics service with three windows stored."""
    with TestClient(create_analytics_app(AnalyticsSettings(data_dir=tmp_path / "analytics", **IN_PROCESS))) as client:
        usecases.record_results(client.app.state.store, [window_event(m, m + 1, 2 * m + 3) for m in range(3)])
        yield client


@pytest.fixture
def client(tmp_path: Path, analytics: TestClient) -> Iterator[TestClient]:
    with frontend_client(
        tmp_path / "frontend", FakeCatalog(), analytics_transport=ClientTransport(analytics)
    ) as client:
        yield client


def log_in_as_admin(client: TestClient) -> None:
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/admin/login").text).group(1)
    answer = client.post("/admin/login", data={"csrf_token": csrf, "token": ADMIN_TOKEN, "next": "/admin/analytics"})
    assert answer.status_code == 200, answer.text


def test_staff_with_the_token_get_the_windows_newest_first(client) -> None:
    response = client.get("/api/analytics/windows", headers=STAFF)
    assert response.status_code == 200
    assert response.json() == {"windows": as_served((2, 3, 7), (1, 2, 5), (0, 1, 3))}
    assert response.headers["cache-control"] == "no-store"
    assert client.get("/api/analytics/windows", params={"limit": 1}, headers=STAFF).json() == {
        "windows": as_served((2, 3, 7))
    }


def test_an_admin_signed_in_on_the_site_reads_them_with_the_session(client) -> None:
    log_in_as_admin(client)
    assert client.get("/api/analytics/windows").json()["windows"][0] == as_served((2, 3, 7))[0]


def test_a_visitor_gets_401_and_a_wrong_token_401(client) -> None:
    anonymous = client.get("/api/analytics/windows")
    wrong = client.get("/api/analytics/windows", headers={"Authorization": "Bearer not-the-admin-token-at-all"})
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "unauthorized"
    assert "bearer" in anonymous.headers["www-authenticate"].lower()
    assert wrong.status_code == 401


def test_a_signed_in_shopper_gets_403(client) -> None:
    assert client.post("/api/accounts", json=SHOPPER).status_code == 201
    refused = client.get("/api/analytics/windows")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"


def test_who_is_asking_is_checked_before_the_limit(client) -> None:
    assert client.get("/api/analytics/windows", params={"limit": 0}).status_code == 401


@pytest.mark.parametrize("limit", ["0", "1441", "many", "-5"])
def test_a_bad_limit_is_a_422_naming_it(client, limit) -> None:
    response = client.get("/api/analytics/windows", params={"limit": limit}, headers=STAFF)
    assert response.status_code == 422 and response.json()["error"]["details"][0]["field"] == "limit"


def test_analytics_down_is_a_503_naming_it_and_the_frontend_stays_ready(tmp_path) -> None:
    with frontend_client(tmp_path, FakeCatalog(), analytics_transport=DownTransport()) as client:
        response = client.get("/api/analytics/windows", headers=STAFF)
        ready = client.get("/readyz").json()
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable" and "analytics" in response.json()["error"]["message"]
    assert response.headers["retry-after"]
    assert ready["status"] == "degraded" and ready["checks"]["analytics"].startswith("failed")


def test_the_dashboard_is_for_admins_only(client) -> None:
    visitor = client.get("/admin/analytics", follow_redirects=False)
    assert visitor.status_code == 303 and visitor.headers["location"].startswith("/admin/login?next=")


def test_the_dashboard_shows_the_last_window_and_a_table_and_is_linked_from_the_admin_navigation(client) -> None:
    log_in_as_admin(client)
    page = client.get("/admin/analytics")
    html = page.text
    assert page.status_code == 200
    assert 'href="/admin/analytics"' in client.get("/admin/orders").text
    assert re.search(r'data-testid="last-users">\s*3\s*<', html) and re.search(
        r'data-testid="last-events">\s*7\s*<', html
    )
    assert html.count("<tr><td>2025-01-01") == 3
    assert 'data-testid="analytics-empty" hidden' in html


def test_the_dashboards_script_is_a_file_of_ours_as_the_content_security_policy_requires(client) -> None:
    log_in_as_admin(client)
    page = client.get("/admin/analytics")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.DOTALL)
    assert scripts and all('src="/static/' in attributes and body.strip() == "" for attributes, body in scripts)
    assert "style=" not in page.text
    script = client.get("/static/analytics.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "/api/analytics/windows" in script.text and "visibilitychange" in script.text


def test_the_dashboard_says_so_when_analytics_is_down_or_empty(tmp_path) -> None:
    with frontend_client(tmp_path, FakeCatalog(), analytics_transport=DownTransport()) as client:
        log_in_as_admin(client)
        down = client.get("/admin/analytics")
    assert down.status_code == 200 and "not answering" in down.text
    with (
        TestClient(create_analytics_app(AnalyticsSettings(data_dir=tmp_path / "a", **IN_PROCESS))) as analytics,
        frontend_client(tmp_path / "f", FakeCatalog(), analytics_transport=ClientTransport(analytics)) as client,
    ):
        log_in_as_admin(client)
        empty = client.get("/admin/analytics")
    assert re.search(r'data-testid="analytics-empty"\s*>', empty.text) and "No windows yet" in empty.text


def test_the_dashboards_polling_does_not_keep_an_admin_signed_in(client, monkeypatch) -> None:
    import time as clock

    from mce.services.frontend import sessions

    log_in_as_admin(client)
    signed_in_at = clock.time()
    idle = client.app.state.settings.admin_idle_s
    for minutes in (10, 20, 29):
        monkeypatch.setattr(sessions.time, "time", lambda m=minutes: signed_in_at + m * 60)
        assert client.get("/api/analytics/windows").status_code == 200
    monkeypatch.setattr(sessions.time, "time", lambda: signed_in_at + idle + 60)
    assert client.get("/api/analytics/windows").status_code == 401
