"""The platform as `mce up` runs it: real processes, talking over HTTP and the embedded bus."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import Platform, start_platform

pytestmark = pytest.mark.e2e


def eventually(check: Callable[[], bool], timeout: float = 2.0) -> bool:
    """True as soon as check() is; False if it is not within the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def search_hits(client: httpx.Client, query: str) -> list[dict]:
    response = client.get("/api/search", params={"q": query})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_a_product_change_is_searchable_within_two_seconds(platform: Platform) -> None:
    admin = {"Authorization": f"Bearer {platform.admin_token}"}
    with httpx.Client(base_url=platform.url(), timeout=10) as client:
        created = client.post(
            "/api/products",
            json={
                "name": "Zephyrine Teapot",
                "description": "Cast iron",
                "price": 31.5,
                "stock": 4,
                "category": "Home & Kitchen",
            },
            headers=admin,
        )
        assert created.status_code == 201, created.text
        product_id = created.json()["id"]

        def found_with_price(price: float) -> Callable[[], bool]:
            return lambda: any(h["id"] == product_id and h["price"] == price for h in search_hits(client, "zephyrine"))

        assert eventually(found_with_price(31.5)), "new product not searchable within 2 s"

        updated = client.put(f"/api/products/{product_id}", json={"price": 27.25}, headers=admin)
        assert updated.status_code == 200, updated.text
        assert eventually(found_with_price(27.25)), "new price not in search within 2 s"

        assert client.delete(f"/api/products/{product_id}", headers=admin).status_code == 204
        assert eventually(lambda: not search_hits(client, "zephyrine")), "deleted product still in search after 2 s"
        assert client.get(f"/api/products/{product_id}").status_code == 404


def test_the_seeded_catalog_is_browsable_and_searchable(platform: Platform) -> None:
    with httpx.Client(base_url=platform.url(), timeout=10) as client:
        page = client.get("/api/products", params={"limit": 5}).json()
        assert page["total"] >= 200 and len(page["items"]) == 5
        categories = client.get("/api/categories").json()["items"]
        assert len(categories) >= 8
        results = client.get("/api/search", params={"q": "headphnes"}).json()
        assert results["total"] >= 1 and "Headphones" in results["items"][0]["name"]
        assert sum(results["facets"]["category"].values()) == results["total"]


def test_every_service_is_ready_and_serves_metrics(platform: Platform) -> None:
    for service in platform.ports:
        assert httpx.get(f"{platform.url(service)}/readyz", timeout=10).status_code == 200, service
        assert "http_requests_total" in httpx.get(platform.metrics_url(service), timeout=10).text, service


def test_shoppers_port_does_not_serve_metrics(platform: Platform) -> None:
    assert platform.metrics_url("frontend") != f"{platform.url('frontend')}/metrics"
    assert httpx.get(f"{platform.url('frontend')}/metrics", timeout=10).status_code == 404


def test_a_request_id_follows_a_request_through_the_services(platform: Platform) -> None:
    # no-cache: the gateway must call the product service, not answer from its catalog cache.
    headers = {"X-Request-ID": "trace-me-42", "Cache-Control": "no-cache"}
    with httpx.Client(base_url=platform.url(), timeout=10) as client:
        response = client.get("/api/products", params={"limit": 1}, headers=headers)
    assert response.headers["x-request-id"] == "trace-me-42"
    product_log = platform.data_dir / "logs" / "product.log"
    assert eventually(lambda: "trace-me-42" in product_log.read_text()), product_log.read_text()[-500:]


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_up_restarts_a_crashed_service_and_ctrl_c_stops_everything(tmp_path) -> None:
    running = start_platform(tmp_path, seed=20)
    try:
        search_port = running.ports["search"]
        subprocess.run(["pkill", "-9", "-f", f"mce serve search --port {search_port}"], check=True)
        assert eventually(lambda: any("search exited with code" in line for line in running.output), 10)
        assert eventually(
            lambda: (
                httpx.get(f"{running.url('search')}/readyz").status_code == 200 if _listening(search_port) else False
            ),
            60,
        )
    finally:
        code = running.stop()
    assert code == 0
    assert not any(_listening(port) for port in running.ports.values())
    assert any("stopped" in line for line in running.output)


def test_data_survives_a_restart(tmp_path) -> None:
    first = start_platform(tmp_path, seed=20)
    try:
        token = first.admin_token
        created = httpx.post(
            f"{first.url()}/api/products",
            json={"name": "Keeper", "price": 1, "stock": 1, "category": "Office"},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
    finally:
        first.stop()
    second = start_platform(tmp_path, seed=20)
    try:
        assert second.admin_token == token
        assert httpx.get(f"{second.url()}/api/products/{created['id']}").json()["name"] == "Keeper"
        assert httpx.get(f"{second.url()}/api/products").json()["total"] == 21
    finally:
        second.stop()
